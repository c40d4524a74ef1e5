"""Stage 02 `visual`: embeddings of stage 01's aligned face crops, one feature set per backbone.

Per clip, `clips/<clip>/<backbone>.npz` (`affect.cache.series`: float16 values, row times,
mask, rate); `backbones.json` (each backbone's `describe()`: weights, layer, dim, transform)
beside them. Rows are every frame (`visual.sample=all`) or the frames the time grid of
`align.hop` needs (`grid`; the hop enters the fingerprint). Frames without a face, crops
that do not decode and non-finite outputs are masked, never filled in.

Several processes can share the work (`visual.shard=k/n`, or torchrun's RANK/WORLD_SIZE):
each takes a fixed share of the clips and writes their folders, and the last to finish
writes the done marker once every clip is written or recorded as failed.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir, atomic
from affect.stages.base import ClipError, ClipStage, InputError, RunOptions, StageReport, brief
from affect.visual.shard import Shard, assign, current_shard, local_device_index

log = logging.getLogger(__name__)

BACKBONES_JSON = "backbones.json"


class VisualStage(ClipStage):
    name = "visual"
    number = 2
    version = 1
    requires = ("prepare", "faces")

    # identity --------------------------------------------------------------------------
    @property
    def sample(self) -> str:
        sample = self.cfg.visual.sample
        if sample not in ("grid", "all"):
            raise InputError(f"visual.sample must be 'grid' or 'all', got {sample!r}")
        return sample

    @property
    def hop(self) -> float:
        """Seconds between sampled rows: align.hop for sample=grid (0 = every frame), 0 for sample=all."""
        return float(self.cfg.align.hop) if self.sample == "grid" else 0.0

    def variant(self) -> str:
        return f"grid{self.cfg.align.hop:g}" if self.sample == "grid" else "all"

    def extra_inputs(self) -> dict[str, str]:
        return {"grid_hop": repr(self.hop)} if self.sample == "grid" else {}

    def weights_for(self, name: str) -> str:
        return self.cfg.visual.weights_for.get(name, self.cfg.visual.weights)

    @property
    def shard(self) -> Shard:
        return current_shard(self.cfg.visual.shard)

    # work ------------------------------------------------------------------------------
    def setup(self) -> None:
        import torch

        from affect.backbones.registry import create_backbone, get_spec
        from affect.device import resolve_device

        device = resolve_device(self.cfg.device)
        if device.type == "cuda" and device.index is None and local_device_index() is not None:
            device = torch.device("cuda", local_device_index())  # torchrun: one GPU per local rank
        self.device = device
        self.backbones = []
        for name in self.cfg.visual.backbones:
            if get_spec(name).modality != "visual":
                raise ValueError(f"visual.backbones: {name!r} is a {get_spec(name).modality} backbone")
            torch.manual_seed(self.cfg.seed)  # random weights: the same in every process and rerun
            bb = create_backbone(name, weights=self.weights_for(name), amp=self.cfg.visual.amp).to(device)
            log.info("visual: %s: %s", name, bb.describe())
            if bb.weights == "random":
                log.warning("visual: %s runs with RANDOM weights (weights=random): its features are not pretrained", name)
            self.backbones.append(bb)
        atomic.write_json(self.output.path / BACKBONES_JSON, {bb.name: bb.describe() for bb in self.backbones})
        cap = os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "")
        if device.type == "cpu" and len(self.backbones) > 1 and cap.isdigit() and int(cap) < 1024:
            log.info("visual: oneDNN's primitive cache is capped at %s in this process (stage 01 caps it to keep its "
                     "memory flat; oneDNN reads the cap once per process): every batch re-creates the backbones' "
                     "primitives, ~1.4%% slower for ResNet-50 + SE-ResNet-50 at batch 8, ~17%% for the tiny demo "
                     "backbones (benchmarks/visual_bench.py); `affect visual ...` in its own process avoids it", cap)

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        from affect.cache.series import save_series
        from affect.visual.extract import extract_clip

        crop_dir = self.upstream_output("faces").clip_dir(clip["clip"])
        if not crop_dir.is_dir():
            raise ClipError(crop_dir, "stage 01 wrote no crops for this clip (see its errors.csv)")
        try:
            feats = extract_clip(crop_dir, frames=int(clip["frames"]), fps=float(clip["fps"]), hop=self.hop,
                                 backbones=self.backbones, batch_size=self.cfg.visual.batch_size,
                                 workers=self.cfg.visual.workers, pin_memory=self.device.type == "cuda")
        except FileNotFoundError as e:
            raise ClipError(crop_dir, f"crop store unreadable: {e}") from None
        for name, series in feats.series.items():
            save_series(out / f"{name}.npz", series)
        return feats.summary

    # sharded run -----------------------------------------------------------------------
    def run(self, opts: RunOptions) -> StageReport:
        if opts.overwrite and not opts.dry_run and self.shard.world > 1:
            raise ValueError("visual: --overwrite with several processes would race; run it once with one "
                             "process (or delete the output folder), then start the shards")
        return super().run(opts)

    def errors_name(self, shard: Shard) -> str:
        return "errors.csv" if shard.world == 1 else f"errors.shard{shard.rank}of{shard.world}.csv"

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        shard = self.shard
        rows = self.selected_clips(opts.limit)
        mine = rows[assign(rows["frames"].to_numpy(), shard.world) == shard.rank] if shard.world > 1 else rows
        todo = mine[[not out.clip_done(c) for c in mine["clip"]]]
        log.info("visual: shard %s: %d of %d clips, %d to do", shard, len(mine), len(rows), len(todo))
        sweep_work_dirs(out.path)
        errors: list[dict[str, str]] = []
        if len(todo):
            self.setup()
        for i, (_, clip) in enumerate(tqdm(todo.iterrows(), total=len(todo), desc=self.name, unit="clip",
                                           disable=None), start=1):
            start = time.perf_counter()
            try:
                summary = self._write_clip(out, clip)
                log.info("visual: [%d/%d] %s: %s (%.1f s)", i, len(todo), clip["clip"], brief(summary),
                         time.perf_counter() - start)
            except ClipError as e:
                log.error("visual: [%d/%d] %s failed: %s", i, len(todo), clip["clip"], e)
                errors.append({"clip": clip["clip"], "file": e.file, "error": e.message})
            except Exception as e:  # one bad clip never stops the others
                log.exception("visual: [%d/%d] %s failed", i, len(todo), clip["clip"])
                errors.append({"clip": clip["clip"], "file": "", "error": f"{type(e).__name__}: {e}"})
        shutil.rmtree(work_dir(out.path), ignore_errors=True)
        self._save_errors(out, shard, errors)
        report = StageReport(self.name, out.path, "ran", len(todo) - len(errors), len(errors))
        failed = self._all_errors(out)
        missing = set(rows["clip"]) - set(out.done_clips()) - set(failed["clip"])
        if missing:  # not "partial": that would mark the folder as built on partial input
            log.info("visual: shard %s finished; %d clips of other shards still to come (the last shard to "
                     "finish marks the stage done)", shard, len(missing))
            return report
        if shard.world > 1:
            out.save_errors(failed.to_dict("records"))
        self.finish(out)
        out.mark_done({"clips": out.done_clips(), "failed": sorted(failed["clip"])})
        return report

    def _write_clip(self, out: StageDir, clip: pd.Series) -> dict[str, Any]:
        """Write a clip's folder under this process's own work folder, then move it into place whole.

        Not `atomic_dir`'s `clips/<clip>.tmp-*`: every process sweeps those when it starts, and
        with shards another process may still be writing them.
        """
        work = work_dir(out.path) / clip["clip"]
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        try:
            summary = self.process(clip, work)
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

    def _save_errors(self, out: StageDir, shard: Shard, errors: list[dict[str, str]]) -> None:
        path = out.path / self.errors_name(shard)
        if errors:
            with atomic.atomic_path(path) as tmp:
                pd.DataFrame(errors, columns=["clip", "file", "error"]).to_csv(tmp, index=False)
        elif path.exists():
            path.unlink()

    def _all_errors(self, out: StageDir) -> pd.DataFrame:
        """Failed clips recorded by every shard (clips done since are no longer failures)."""
        files = sorted(out.path.glob("errors.shard*.csv")) + [p for p in [out.path / "errors.csv"] if p.exists()]
        frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in files]
        errors = pd.concat(frames) if frames else pd.DataFrame(columns=["clip", "file", "error"])
        return errors[~errors["clip"].isin(out.done_clips())].drop_duplicates("clip")


def work_dir(stage_dir: Path) -> Path:
    """This process's scratch folder in a stage folder: `.work-<host>-<pid>`."""
    return stage_dir / f".work-{socket.gethostname()}-{os.getpid()}"


def sweep_work_dirs(stage_dir: Path) -> None:
    """Remove the scratch folders of dead processes of this host (those of live ones, or of other hosts, stay)."""
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
