"""What every stage shares: fingerprint, output folder, skip-when-done, dry run, per-clip resume.

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
from tqdm import tqdm

from affect.cache import StageDir, digest, hashed_fields, stage_fingerprint
from affect.cache import atomic
from affect.cache.reuse import KEY_FILE, find_donor, link_tree, read_key
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


def brief(summary: dict[str, Any], items: int = 6) -> str:
    """A clip summary as one short `key=value` line; per-backbone counts (`valid:<name>`) count as one item,
    all backbones shown."""
    scalars = [(k, v) for k, v in summary.items() if isinstance(v, (int, float, str, bool)) and k != "clip"]
    per_backbone = [(k.split(":", 1)[1], v) for k, v in scalars if k.startswith("valid:")]
    scalars = [(k, v) for k, v in scalars if not k.startswith("valid:")]
    text = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in scalars[:items])
    if per_backbone:
        values = {v for _, v in per_backbone}
        text += (f" valid={values.pop()} (each of {len(per_backbone)} backbones)" if len(values) == 1 else
                 " valid: " + " ".join(f"{n}={v}" for n, v in per_backbone))
    return text


def short_describe(info: dict[str, Any], longest: int = 8) -> dict[str, Any]:
    """A describe() dict for one log line: lists and dicts longer than `longest` become `<N items>`
    (the full record is in backbones.json)."""
    return {k: f"<{len(v)} items, see backbones.json>" if isinstance(v, (list, tuple, dict)) and len(v) > longest
            else v for k, v in info.items()}


class ClipStage(Stage):
    """A stage whose work is one independent job per clip of the manifest, resumable per clip.

    A clip whose result another output folder of the stage already holds with the same clip key
    (`affect.cache.reuse`) is linked from there, not computed again: a new clip, a fixed label file
    or an edited test list gives every stage a new folder, but redoes only the clips it changed.
    """

    requires: ClassVar[tuple[str, ...]] = ("prepare",)
    per_clip: ClassVar[bool] = True
    # manifest columns a clip's result does not depend on (the split, the fold, the labels)
    row_ignores: ClassVar[tuple[str, ...]] = ("split", "fold", "label_path", "label_frames", "invalid_frames",
                                              "count_diff", "reconcile")
    reuse: bool = True  # False under --overwrite: every clip is computed

    def run(self, opts: RunOptions) -> StageReport:
        self.reuse = not opts.overwrite
        return super().run(opts)

    def clip_key(self, clip: pd.Series) -> str | None:
        """What this clip's result depends on, hashed; None when an upstream result has no key."""
        from affect.cache import files_fingerprint
        from affect.data.manifest import resolve

        root = Path(self.cfg.corpus.root)
        row = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in clip.items()
               if k not in self.row_ignores}
        files = [resolve(root, str(clip[c])) for c in ("video_path", "crops_dir") if isinstance(clip.get(c), str) and clip[c]]
        inputs: dict[str, Any] = {"row": row, "files": files_fingerprint(root, [p for p in files if p.exists()]),
                                  "seed": self.cfg.seed, **self.clip_inputs(clip)}
        for name in self.requires:
            if name == "prepare":
                continue
            if not self.upstream(name).per_clip:
                inputs[name] = self.upstream(name).fingerprint
                continue
            key = read_key(self.upstream_output(name).clip_dir(str(clip["clip"])))
            if key is None:
                return None
            inputs[name] = key
        return stage_fingerprint(self.name, self.version, hashed_fields(self.section()),
                                 {**self.extra_inputs(), "clip": digest(inputs)})

    def clip_inputs(self, clip: pd.Series) -> dict[str, str]:
        """Per-clip inputs besides the manifest row and the upstream results (e.g. the clip's labels)."""
        return {}

    def produce(self, clip: pd.Series, folder: Path) -> dict[str, Any]:
        """`process` the clip into the empty `folder`, or link the result another output folder holds
        under the same clip key; records the key. Returns the summary."""
        key = self.clip_key(clip) if self.reuse else None
        donor = find_donor(self.stage_root, self.output.path, str(clip["clip"]), key) if key else None
        if donor is None:
            summary = self.process(clip, folder)
        else:
            link_tree(donor, folder, skip=("summary.json", KEY_FILE))
            self.reuse_shared(donor.parent.parent, clip)
            summary = json.loads((donor / "summary.json").read_text())
            summary.pop("clip", None)
            log.info("%s: %s: reused from %s (same clip key)", self.name, clip["clip"], donor.parent.parent.name)
        if key:
            atomic.write_json(folder / KEY_FILE, {"key": key})
        return summary

    def reuse_shared(self, donor: Path, clip: pd.Series) -> None:
        """Link what a reused clip's folder points to outside itself (override: stage 03's per-video audio)."""

    def clips(self, limit: int | None = None) -> pd.DataFrame:
        """The clips this run takes (kept for older callers; see `selected_clips`)."""
        return self.selected_clips(limit)

    def covers_all(self, limit: int | None) -> bool:
        return len(self.selected_clips(limit)) == len(self.manifest)

    def plan_clips(self, limit: int | None) -> list[str] | None:
        return list(self.selected_clips(limit)["clip"])

    def plan(self) -> str:
        rows = self.selected_clips(self.limit)
        done = sum(self.output.clip_done(c) for c in rows["clip"])
        of = f" (--limit {self.limit})" if len(rows) < len(self.manifest) else ""
        return f"{len(rows) - done} of {len(rows)} clips{of} ({done} already done)"

    def setup(self) -> None:
        """Build what every clip needs (models...), once per run."""

    @abstractmethod
    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        """Write one clip's results into the empty folder `out`; return a summary row."""

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        rows = self.selected_clips(opts.limit)
        if len(rows) < len(self.manifest):
            splits = ", ".join(f"{n} {s}" for s, n in rows["split"].value_counts(sort=False).items())
            log.info("%s: --limit %d: %d of %d clips (%s)", self.name, opts.limit, len(rows), len(self.manifest),
                     splits)
        for clip in out.done_clips():  # before any work: results of an older version are not mixed in
            self.summary_path(out, clip)
        todo = rows[[not out.clip_done(c) for c in rows["clip"]]]
        if len(todo) < len(rows):
            log.info("%s: resuming: %d of %d clips already done", self.name, len(rows) - len(todo), len(rows))
        errors = self.process_clips(out, todo)
        out.save_errors(errors)
        self.finish(out)
        out.mark_done({"clips": out.done_clips(), "failed": [e["clip"] for e in errors]})
        return StageReport(self.name, out.path, "ran", len(todo) - len(errors), len(errors))

    def process_clips(self, out: StageDir, todo: pd.DataFrame, desc: str = "") -> list[dict[str, str]]:
        """`write_clip` for each row of `todo` (after `setup`), one INFO line each; returns the failures."""
        errors: list[dict[str, str]] = []
        if len(todo):
            self.setup()
        bar = tqdm(todo.iterrows(), total=len(todo), desc=desc or self.name, unit="clip", disable=None)  # on a terminal
        for i, (_, clip) in enumerate(bar, start=1):
            start = time.perf_counter()
            try:
                summary = self.write_clip(out, clip)
                log.info("%s: [%d/%d] %s: %s (%.1f s)", self.name, i, len(todo), clip["clip"], brief(summary),
                         time.perf_counter() - start)
                log.debug("%s: %s summary: %s", self.name, clip["clip"], summary)
            except ClipError as e:
                log.error("%s: [%d/%d] %s failed: %s", self.name, i, len(todo), clip["clip"], e)
                errors.append({"clip": clip["clip"], "file": e.file, "error": e.message})
            except Exception as e:  # one bad clip never stops the others
                log.exception("%s: [%d/%d] %s failed", self.name, i, len(todo), clip["clip"])
                errors.append({"clip": clip["clip"], "file": "", "error": f"{type(e).__name__}: {e}"})
        return errors

    def write_clip(self, out: StageDir, clip: pd.Series) -> dict[str, Any]:
        """`process` one clip into a folder that appears whole (atomic rename); returns its summary."""
        with atomic.atomic_dir(out.clip_dir(clip["clip"])) as tmp:
            summary = self.produce(clip, tmp)
            atomic.write_json(tmp / "summary.json", {"clip": clip["clip"], **summary})
        return summary

    def summary_path(self, out: StageDir, clip: str) -> Path:
        """A finished clip's `summary.json`; a clip folder without one was left by an older version: InputError."""
        path = out.clip_dir(clip) / "summary.json"
        if not path.is_file():
            raise InputError(f"{out.clip_dir(clip)}: clip folder without summary.json, left by an older version "
                             f"of stage '{self.name}'; remove it (or the stage folder) or rerun with --overwrite")
        return path

    def finish(self, out: StageDir) -> None:
        """Gather per-clip summaries into `summary.csv` (override to add more); runs after partial runs too."""
        rows = [json.loads(self.summary_path(out, clip).read_text()) for clip in out.done_clips()]
        with atomic.atomic_path(out.path / "summary.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
