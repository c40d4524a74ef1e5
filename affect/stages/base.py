"""What every stage shares: fingerprint, output folder, skip-when-done, dry run, per-clip resume.

A stage's fingerprint covers its config section (fields that change results), its version
and the fingerprints of its inputs (the upstream stages, and for `prepare` the corpus files),
so downstream folders change whenever anything upstream does.
"""
from __future__ import annotations

import logging
import shlex
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir, hashed_fields, stage_fingerprint
from affect.cache import atomic
from affect.config import Config, to_yaml
from affect.log import log_to_file

log = logging.getLogger(__name__)


class StageNotReady(RuntimeError):
    """An upstream stage has not finished for this config."""


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
    limit: int | None = None  # take the first N clips (the stage is then left incomplete)
    command: str = ""  # the command line that started the run, saved with the output


@dataclass
class StageReport:
    stage: str
    path: Path
    status: str  # done-before | would-run | ran | partial
    processed: int = 0
    failed: int = 0


class Stage(ABC):
    """A stage of the pipeline; subclasses set the class attributes and `execute`."""

    name: ClassVar[str]
    number: ClassVar[int]
    version: ClassVar[int] = 1
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, cfg: Config):
        self.cfg = cfg

    # identity ----------------------------------------------------------------------------
    def section(self) -> Any:
        """The stage's config dataclass (its hashed fields enter the fingerprint)."""
        return getattr(self.cfg, self.name)

    def variant(self) -> str:
        """The readable part of the output folder's name."""
        return self.name

    def extra_inputs(self) -> dict[str, str]:
        """Input fingerprints besides the upstream stages (e.g. the corpus files)."""
        return {}

    def upstream(self, name: str) -> "Stage":
        from affect.stages import get_stage

        return get_stage(name)(self.cfg)

    @cached_property
    def fingerprint(self) -> str:
        inputs = {name: self.upstream(name).fingerprint for name in self.requires}
        inputs.update(self.extra_inputs())
        return stage_fingerprint(self.name, self.version, hashed_fields(self.section()), inputs)

    @property
    def corpus_name(self) -> str:
        return self.cfg.corpus.name or Path(self.cfg.corpus.root).resolve().name

    @cached_property
    def output(self) -> StageDir:
        root = Path(self.cfg.cache_root) / self.corpus_name / self.name
        return StageDir(root / f"{self.variant()}-{self.fingerprint[:8]}", self.fingerprint)

    def upstream_output(self, name: str) -> StageDir:
        up = self.upstream(name)
        if not up.output.done:
            raise StageNotReady(
                f"stage '{self.name}' needs stage '{name}', which has not finished for this config "
                f"(expected {up.output.path}); run `affect {name}` with the same config first"
            )
        return up.output

    # running -----------------------------------------------------------------------------
    def run(self, opts: RunOptions) -> StageReport:
        out = self.output
        if opts.overwrite and not opts.dry_run and out.path.exists():
            log.info("%s: --overwrite: removing %s", self.name, out.path)
            out.reset()
        if out.done:
            log.info("%s: already done in %s; nothing to do", self.name, out.path)
            return StageReport(self.name, out.path, "done-before")
        for name in self.requires:
            self.upstream_output(name)
        if opts.dry_run:
            log.info("%s: would run: %s -> %s", self.name, self.plan(), out.path)
            return StageReport(self.name, out.path, "would-run")
        out.path.mkdir(parents=True, exist_ok=True)
        with log_to_file(out.path / "log.txt"):
            swept = atomic.sweep_tmp(out.path)
            if swept:
                log.info("%s: removed %d leftovers of an interrupted run", self.name, swept)
            config_yaml = to_yaml(self.cfg)
            out.save_provenance(config_yaml, opts.command or shlex.join(sys.argv))
            log.info("%s: writing %s\n%s", self.name, out.path, config_yaml)
            start = time.perf_counter()
            report = self.execute(out, opts)
            log.info("%s: %s in %.1f s (%d processed, %d failed)", self.name, report.status,
                     time.perf_counter() - start, report.processed, report.failed)
        return report

    def plan(self) -> str:
        return "the whole stage"

    @abstractmethod
    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        """Do the work into `out` and mark it done."""


class ClipStage(Stage):
    """A stage whose work is one independent job per clip of the manifest, resumable per clip."""

    requires: ClassVar[tuple[str, ...]] = ("prepare",)

    @cached_property
    def manifest(self) -> pd.DataFrame:
        from affect.data.manifest import read_manifest

        return read_manifest(self.upstream_output("prepare").path)

    def clips(self, limit: int | None = None) -> pd.DataFrame:
        rows = self.manifest
        return rows.iloc[:limit] if limit else rows

    def plan(self) -> str:
        rows = self.manifest
        done = sum(self.output.clip_done(c) for c in rows["clip"])
        return f"{len(rows) - done} of {len(rows)} clips ({done} already done)"

    def setup(self) -> None:
        """Build what every clip needs (models...), once per run."""

    @abstractmethod
    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        """Write one clip's results into the empty folder `out`; return a summary row."""

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        rows = self.clips(opts.limit)
        todo = rows[[not out.clip_done(c) for c in rows["clip"]]]
        if len(todo) < len(rows):
            log.info("%s: resuming: %d of %d clips already done", self.name, len(rows) - len(todo), len(rows))
        errors: list[dict[str, str]] = []
        if len(todo):
            self.setup()
        for _, clip in tqdm(todo.iterrows(), total=len(todo), desc=self.name, unit="clip"):
            try:
                with atomic.atomic_dir(out.clip_dir(clip["clip"])) as tmp:
                    summary = self.process(clip, tmp)
                    atomic.write_json(tmp / "summary.json", {"clip": clip["clip"], **summary})
            except ClipError as e:
                log.error("%s: clip %s failed: %s", self.name, clip["clip"], e)
                errors.append({"clip": clip["clip"], "file": e.file, "error": e.message})
            except Exception as e:  # one bad clip never stops the others
                log.exception("%s: clip %s failed", self.name, clip["clip"])
                errors.append({"clip": clip["clip"], "file": "", "error": f"{type(e).__name__}: {e}"})
        out.save_errors(errors)
        processed = len(todo) - len(errors)
        if len(rows) < len(self.manifest):
            log.info("%s: --limit %d: stage left incomplete (%d of %d clips)", self.name,
                     len(rows), len(out.done_clips()), len(self.manifest))
            return StageReport(self.name, out.path, "partial", processed, len(errors))
        self.finish(out)
        out.mark_done({"clips": out.done_clips(), "failed": [e["clip"] for e in errors]})
        return StageReport(self.name, out.path, "ran", processed, len(errors))

    def finish(self, out: StageDir) -> None:
        """Gather per-clip summaries into `summary.csv` (override to add more)."""
        import json

        rows = [json.loads((out.clip_dir(c) / "summary.json").read_text()) for c in out.done_clips()]
        with atomic.atomic_path(out.path / "summary.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
