"""A per-clip stage whose clips can be shared by several processes: `torchrun` ranks or `k/n`.

Used by stages 01 `faces`, 02 `visual` and 04 `speech` (the split: `affect.shard`): no process
group and no collective call. Every process computes the same split from the manifest (clips balanced by
frame count, `assign`), writes its clips' folders (each built in the process's own work
folder, then moved into place whole), records its failures in `errors.shard<k>of<n>.csv`,
and whichever process finds every clip written or failed gathers the summaries and writes the
done marker. With one process (the default) this is `ClipStage.execute`.

A subclass says where its shard spec lives by overriding `shard_spec()` (a config value
"k/n", empty = RANK/WORLD_SIZE from the environment).
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pandas as pd

from affect.cache import StageDir, atomic
from affect.stages.base import RunOptions, StageReport
from affect.stages.clip_stage import ClipStage
from affect.shard import Shard, assign, current_shard

log = logging.getLogger(__name__)


class ShardedClipStage(ClipStage):
    """`ClipStage` whose clips are split across processes (see the module docstring)."""

    def shard_spec(self) -> str:
        """"k/n", or "" for RANK/WORLD_SIZE (override to read the stage's config)."""
        return ""

    @property
    def shard(self) -> Shard:
        return current_shard(self.shard_spec())

    def run(self, opts: RunOptions) -> StageReport:
        if opts.overwrite and not opts.dry_run and self.shard.world > 1:
            raise ValueError(f"{self.name}: --overwrite with several processes would race; run it once with one "
                             "process (or delete the output folder), then start the shards")
        return super().run(opts)

    def lock_suffix(self) -> str:
        shard = self.shard
        return f".shard{shard.rank}of{shard.world}" if shard.world > 1 else ""

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        shard = self.shard
        if shard.world == 1:
            return super().execute(out, opts)
        rows = self.selected_clips(opts.limit)
        mine = rows[assign(rows["frames"].to_numpy(), shard.world) == shard.rank]
        todo = mine[[not out.clip_done(c) for c in mine["clip"]]]
        log.info("%s: shard %s: %d of %d clips, %d to do", self.name, shard, len(mine), len(rows), len(todo))
        sweep_work_dirs(out.path)
        errors = self.process_clips(out, todo, desc=f"{self.name} {shard}")
        shutil.rmtree(work_dir(out.path), ignore_errors=True)
        _save_errors(out.path / f"errors.shard{shard.rank}of{shard.world}.csv", errors)
        report = StageReport(self.name, out.path, "ran", len(todo) - len(errors), len(errors))
        failed = all_errors(out)
        missing = set(rows["clip"]) - set(out.done_clips()) - set(failed["clip"])
        if missing:
            log.info("%s: shard %s finished; %d clips of other shards still to come (the last shard to "
                     "finish marks the stage done)", self.name, shard, len(missing))
            return report
        out.save_errors(failed.to_dict("records"))
        self.finish(out)
        out.mark_done({"clips": out.done_clips(), "failed": sorted(failed["clip"])})
        return report

    def write_clip(self, out: StageDir, clip: pd.Series) -> dict[str, Any]:
        """Build a clip's folder in this process's work folder, then move it into place whole.

        Not `atomic_dir`'s `clips/<clip>.tmp-*`: every process sweeps those when it starts, and
        another shard may still be writing them. One process: `ClipStage.write_clip`.
        """
        if self.shard.world == 1:
            return super().write_clip(out, clip)
        work = work_dir(out.path) / clip["clip"]
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        try:
            summary = self.produce(clip, work)
            atomic.write_json(work / "summary.json", {"clip": clip["clip"], **summary})
            final = out.clip_dir(clip["clip"])
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                shutil.rmtree(final)
            os.replace(work, final)
        finally:
            if work.exists():
                shutil.rmtree(work)
        return summary


def _save_errors(path: Path, errors: list[dict[str, str]]) -> None:
    if errors:
        with atomic.atomic_path(path) as tmp:
            pd.DataFrame(errors, columns=["clip", "file", "error"]).to_csv(tmp, index=False)
    elif path.exists():
        path.unlink()


def all_errors(out: StageDir) -> pd.DataFrame:
    """Failed clips recorded by every shard (clips done since are no longer failures)."""
    files = sorted(out.path.glob("errors.shard*.csv")) + [p for p in [out.path / "errors.csv"] if p.exists()]
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files]
    errors = pd.concat(frames) if frames else pd.DataFrame(columns=["clip", "file", "error"])
    return errors[~errors["clip"].isin(out.done_clips())].drop_duplicates("clip")


def work_dir(stage_dir: Path) -> Path:
    """This process's scratch folder in a stage folder: `.work-<host>-<pid>`."""
    return stage_dir / f".work-{socket.gethostname()}-{os.getpid()}"


def sweep_work_dirs(stage_dir: Path) -> None:
    """Remove the scratch folders of dead processes of this host (live ones', or other hosts', stay)."""
    host = socket.gethostname()
    for path in stage_dir.glob(".work-*"):
        owner, _, pid = path.name.removeprefix(".work-").rpartition("-")
        if owner == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
