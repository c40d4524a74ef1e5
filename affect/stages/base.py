"""What every stage shares: fingerprint, output folder, skip-when-done, dry run (per-clip stages: `clip_stage`).

A stage's fingerprint covers its config section (fields that change results), its version
and the fingerprints of its inputs (the upstream stages, and for `prepare` the corpus files),
so downstream folders change whenever anything upstream does. It never depends on `--limit`:
a partial run (`--limit N`) writes into the same folder as the full run, which later completes it.

Partial runs. `prepare` always reads the whole corpus. A `ClipStage` run with `--limit N` takes
`selected_clips(N)` (the same N clips in every stage, balanced across splits) and ends with
`_partial.json` instead of `_done.json`. Any stage run with `--limit` accepts upstream stages
that are only partial and is itself partial then. A stage that is not per clip (training) built
on partial input is "tainted": its results, not just its coverage, depend on the limit, so the
next run starts it over; so is every per-clip stage built on a tainted input. Untainted
per-clip results are kept: a later full run only adds the missing clips.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from affect.cache import StageDir, digest, hashed_fields, stage_fingerprint
from affect.cache import atomic
from affect.cache.lock import FolderBusy, folder_lock
from affect.cache.store import MARKER
from affect.config import Config, to_yaml
from affect.log import log_to_file

log = logging.getLogger(__name__)

PARTIAL = "_partial.json"  # the marker of a partial (--limit) run; `_done.json` marks a complete one
SPLIT_ORDER = ("train", "validation", "test")


class StageNotReady(RuntimeError):
    """An upstream stage has not finished for this config."""


class InputError(RuntimeError):
    """Something the user must fix before a stage can run (a path, a stale folder); the message is one line."""


class ClipError(RuntimeError):
    """Bad input for one clip: recorded in the stage's errors.csv, the run goes on."""

    def __init__(self, file: str | Path, message: str):
        super().__init__(f"{file}: {message}")
        self.file = str(file)
        self.message = message


@dataclass
class RunOptions:
    overwrite: bool = False  # recompute even when the output exists
    dry_run: bool = False  # only say what would run
    limit: int | None = None  # per-clip stages take the same N clips (balanced across splits); the run is partial
    command: str = ""  # the command line that started the run, saved with the output


@dataclass
class StageReport:
    stage: str
    path: Path
    status: str  # done-before | partial-before | would-run | ran | partial
    processed: int = 0
    failed: int = 0


class StageOutput(StageDir):
    """A stage's output folder; `mark_done` writes the partial marker instead when the run is partial."""

    def __init__(self, path: Path, fingerprint: str, stage: str):
        super().__init__(path, fingerprint)
        self.stage = stage
        self.partial_info: dict[str, Any] | None = None  # set by Stage.run for a partial run

    def read_marker(self, name: str = MARKER) -> dict[str, Any] | None:
        """A marker's content, None when absent; an unreadable or foreign marker is an InputError."""
        path = self.path / name
        if not path.is_file():
            return None
        try:
            marker = json.loads(path.read_text())
        except (OSError, ValueError):
            marker = None
        if not isinstance(marker, dict) or marker.get("fingerprint") != self.fingerprint:
            raise InputError(f"{self.path}: output folder left by an older version of stage '{self.stage}' "
                             f"({name} is unreadable or belongs to another config); remove it (rm -r "
                             f"'{self.path}') or rerun with --overwrite")
        return marker

    @property
    def done(self) -> bool:
        return self.read_marker(MARKER) is not None

    def partial(self) -> dict[str, Any] | None:
        """The partial marker (written by a --limit run), None when there is none."""
        return self.read_marker(PARTIAL)

    def mark_done(self, info: dict[str, Any]) -> None:
        if self.partial_info is not None:
            atomic.write_json(self.path / PARTIAL, {"fingerprint": self.fingerprint, **info, **self.partial_info})
            return
        super().mark_done(info)
        (self.path / PARTIAL).unlink(missing_ok=True)


def balanced_first(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    """`n` rows taken from the splits in turn (train, validation, test, then others), each in table
    order; returned in table order. The same table and `n` always give the same rows."""
    if n >= len(rows):
        return rows
    splits = sorted(pd.unique(rows["split"]), key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else 99)
    queues = [[i for i, s in enumerate(rows["split"]) if s == split] for split in splits]
    picked: list[int] = []
    while len(picked) < n:
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(queue.pop(0))
    return rows.iloc[sorted(picked)]


class Stage(ABC):
    """A stage of the pipeline; subclasses set the class attributes and `execute`.

    During `run`, `self.limit` is the run's --limit (None: a full run) and `self.partial_inputs`
    names the upstream stages used while only partial. A stage that reads per-clip upstream
    results should iterate `self.upstream_clips(name)` (the clips that stage has finished).
    """

    name: ClassVar[str]
    number: ClassVar[int]
    version: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ()
    per_clip: ClassVar[bool] = False  # True: results are per clip, valid whatever the other clips

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.limit: int | None = None
        self.partial_inputs: list[str] = []

    # identity ----------------------------------------------------------------------------
    def section(self) -> Any:
        """The stage's config dataclass (its hashed fields enter the fingerprint)."""
        return getattr(self.cfg, self.name)

    def log_sections(self) -> dict[str, Any]:
        """The config sections logged when the stage runs (the whole config is saved in config.yaml)."""
        return {self.name: self.section()}

    def variant(self) -> str:
        """The readable part of the output folder's name."""
        return self.name

    def extra_inputs(self) -> dict[str, str]:
        """Input fingerprints besides the upstream stages (e.g. the corpus files)."""
        return {}

    def upstream(self, name: str) -> "Stage":
        """The stage `name` for the same config (one instance per name, shared by the stages of a run)."""
        peers: dict[str, Stage] = self.__dict__.setdefault("_peers", {self.name: self})
        if name not in peers:
            from affect.stages import get_stage

            stage = get_stage(name)(self.cfg)
            stage.__dict__["_peers"] = peers
            peers[name] = stage
        return peers[name]

    def upstream_stages(self) -> list["Stage"]:
        """Every stage this one reads from, directly or not, by stage number."""
        seen: dict[str, Stage] = {}
        todo = list(self.requires)
        while todo:
            name = todo.pop()
            if name not in seen:
                seen[name] = self.upstream(name)
                todo += list(seen[name].requires)
        return sorted(seen.values(), key=lambda s: s.number)

    @cached_property
    def fingerprint(self) -> str:
        inputs = {name: self.upstream(name).fingerprint for name in self.requires}
        inputs.update(self.extra_inputs())
        return stage_fingerprint(self.name, self.version, hashed_fields(self.section()), inputs)

    @property
    def corpus_name(self) -> str:
        return self.cfg.corpus.name or Path(self.cfg.corpus.root).resolve().name

    @property
    def stage_root(self) -> Path:
        """`<cache_root>/<corpus>/<stage>`: every output folder of this stage (all configs, all versions)."""
        return Path(self.cfg.cache_root) / self.corpus_name / self.name

    @cached_property
    def output(self) -> StageOutput:
        return StageOutput(self.stage_root / f"{self.variant()}-{self.fingerprint[:8]}", self.fingerprint, self.name)

    # inputs ------------------------------------------------------------------------------
    def upstream_output(self, name: str) -> StageOutput:
        """The output of upstream stage `name`: done, or partial when this run has a --limit."""
        up = self.upstream(name)
        if up.output.done:
            return up.output
        partial = up.output.partial()
        if partial is None:
            raise StageNotReady(
                f"stage '{self.name}' needs stage '{name}', which has not finished for this config "
                f"(expected {up.output.path}); run `affect {name}` with the same config first")
        if self.limit is None:
            raise StageNotReady(
                f"stage '{self.name}' needs stage '{name}', which is only partial for this config (a --limit run, "
                f"in {up.output.path}); run `affect {name}` without --limit first, or pass --limit")
        if name not in self.partial_inputs:
            self.partial_inputs.append(name)
        return up.output

    @cached_property
    def manifest(self) -> pd.DataFrame:
        """Every clip of the corpus (stage 00's manifest)."""
        from affect.data.manifest import read_manifest

        return read_manifest(self.upstream_output("prepare").path)

    def selected_clips(self, limit: int | None = None) -> pd.DataFrame:
        """The manifest rows a run with --limit `limit` takes: all, or the same first N in every stage,
        balanced across splits (train, validation, test in turn) so that a model can train and validate."""
        return self.manifest if limit is None else balanced_first(self.manifest, limit)

    def upstream_clips(self, name: str) -> pd.DataFrame:
        """The manifest rows whose results upstream stage `name` holds (all of them for a stage not per clip)."""
        out = self.upstream_output(name)
        if not self.upstream(name).per_clip:
            return self.manifest
        return self.manifest[self.manifest["clip"].isin(set(out.done_clips()))]

    def covers_all(self, limit: int | None) -> bool:
        """Whether a run with this limit completes the stage by itself (given complete inputs)."""
        return True

    def check_upstream(self) -> dict[str, dict[str, Any]]:
        """Raise StageNotReady unless every upstream stage can be used; return the partial ones' markers."""
        partial: dict[str, dict[str, Any]] = {}
        for name in self.requires:
            out = self.upstream_output(name)
            if not out.done:
                partial[name] = out.partial() or {}
        return partial

    def partial_plan(self, limit: int | None, partial_inputs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        """What the partial marker of this run will say; None when the run completes the stage."""
        if self.covers_all(limit) and not partial_inputs:
            return None
        tainted = any(m.get("tainted") for m in partial_inputs.values()) or bool(partial_inputs and not self.per_clip)
        key = digest({"limit": limit, "clips": self.plan_clips(limit), "inputs": partial_inputs})
        return {"partial": True, "limit": limit, "tainted": tainted, "partial_inputs": sorted(partial_inputs),
                "key": key}

    def plan_clips(self, limit: int | None) -> list[str] | None:
        """The clips a run with this limit takes (None: not a per-clip stage)."""
        return None

    # running -----------------------------------------------------------------------------
    def run(self, opts: RunOptions) -> StageReport:
        shared = os.environ.get("WORLD_SIZE", "1") not in ("", "1")  # torchrun's ranks share a folder
        if opts.dry_run or shared or (not opts.overwrite and self.output.done):  # a finished folder: nothing written
            return self._run(opts)
        self._make_folder(self.output.path.parent)
        try:
            with folder_lock(self.output.path, self.lock_suffix()):
                return self._run(opts)
        except FolderBusy as e:
            raise InputError(f"{e.path} is being written by another affect run on this cache: wait for it to end, "
                             "or stop it and rerun (finished clips are kept)") from None

    def lock_suffix(self) -> str:
        """Processes that may write this folder at once (shards) lock under their own names."""
        return ""

    def _run(self, opts: RunOptions) -> StageReport:
        self.limit = opts.limit
        out = self.output
        if opts.overwrite and not opts.dry_run and out.path.exists():
            log.info("%s: --overwrite: removing %s", self.name, out.path)
            out.reset()
        if out.done:
            log.info("%s: already done in %s; nothing to do", self.name, out.path)
            return StageReport(self.name, out.path, "done-before")
        try:
            partial_inputs = self.check_upstream()
        except StageNotReady:
            if not opts.dry_run:
                raise
            log.info("%s: would run after %s -> %s", self.name, ", ".join(self.requires), out.path)
            return StageReport(self.name, out.path, "would-run")
        plan = self.partial_plan(opts.limit, partial_inputs)
        previous = out.partial()
        if plan is not None and previous is not None and previous.get("key") == plan["key"]:
            log.info("%s: already done for this --limit run (partial) in %s; nothing to do", self.name, out.path)
            return StageReport(self.name, out.path, "partial-before")
        if opts.dry_run:
            log.info("%s: would run%s: %s -> %s", self.name, " (partial)" if plan else "", self.plan(), out.path)
            return StageReport(self.name, out.path, "would-run")
        stale = previous is not None and (previous.get("tainted") or not self.per_clip)
        if stale and os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 clears the folder
            log.info("%s: starting over in %s: its results were built on partial input (--limit)", self.name, out.path)
            out.reset()
        self._make_folder(out.path)
        with log_to_file(out.path / "log.txt"):
            start = time.perf_counter()
            try:
                report = self._run_in_folder(out, opts, plan)
            except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (`affect.cli.main`)
                log.error("%s: interrupted after %.1f s; finished clips are kept, a rerun resumes", self.name,
                          time.perf_counter() - start)
                raise
            log.info("%s: %s in %.1f s (%d processed, %d failed)", self.name, report.status,
                     time.perf_counter() - start, report.processed, report.failed)
        return report

    def _run_in_folder(self, out: StageOutput, opts: RunOptions, plan: dict[str, Any] | None) -> StageReport:
        swept = atomic.sweep_tmp(out.path)
        if swept:
            log.info("%s: removed %d leftovers of an interrupted run", self.name, swept)
        out.save_provenance(to_yaml(self.cfg), opts.command or shlex.join(sys.argv))
        log.info("%s: writing %s%s\n%s", self.name, out.path, self._partial_note(plan), self._config_text())
        if plan is not None:  # until the run ends, a marker says that this folder is partial (and maybe tainted)
            atomic.write_json(out.path / PARTIAL, {"fingerprint": self.fingerprint, **plan, "key": None})
        out.partial_info = plan
        try:
            report = self.execute(out, opts)
        except Exception as e:  # the folder's log.txt ends with why the stage stopped
            log_stop(self.name, e)
            raise
        if plan is not None and report.status == "ran":
            report.status = "partial"
        if report.status == "partial" and not out.done and out.partial() is None:  # a stage that limits itself
            atomic.write_json(out.path / PARTIAL, {"fingerprint": self.fingerprint, "partial": True, "key": None,
                                                   "limit": opts.limit, "tainted": True, "partial_inputs": []})
        return report

    def _make_folder(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputError(f"cannot create {path} ({e.strerror}): cache_root={self.cfg.cache_root} must be a "
                             "writable folder; set cache_root=<folder> on the command line or in the config") from None

    def _partial_note(self, plan: dict[str, Any] | None) -> str:
        if plan is None:
            return ""
        used = f"; partial input: {', '.join(plan['partial_inputs'])}" if plan["partial_inputs"] else ""
        return f" (partial run: --limit {plan['limit']}{used})"

    def _config_text(self) -> str:
        return "".join(f"{name}:\n" + "".join(f"  {line}\n" for line in to_yaml(section).splitlines())
                       for name, section in self.log_sections().items()).rstrip("\n")

    def plan(self) -> str:
        return "the whole stage"

    @abstractmethod
    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        """Do the work into `out` and mark it done (`out.mark_done`; partial runs are marked as such)."""


#: errors a user fixes (a path, a name, missing weights): one line, no traceback
USER_ERRORS: tuple[type[BaseException], ...] = (StageNotReady, InputError, ClipError, KeyError, ValueError,
                                                FileNotFoundError)


def log_stop(stage: str, error: BaseException) -> None:
    """Log once why `stage` stopped (one line for a user's error, with the traceback otherwise), and mark the
    error as logged so that the entry point does not say it again."""
    if getattr(error, "affect_logged", False):
        return
    from affect.backbones.weights import WeightsNotFound

    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    known = isinstance(error, (*USER_ERRORS, WeightsNotFound)) or type(error).__name__ == "ConfigError"
    log.error("%s: stopped: %s", stage, message, exc_info=None if known else error)
    try:
        error.affect_logged = True  # type: ignore[attr-defined]
    except AttributeError:
        pass
