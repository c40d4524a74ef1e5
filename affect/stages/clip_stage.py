"""`ClipStage`: a stage whose work is one independent job per clip, resumable per clip, with each
clip's result reused from another output folder of the stage when its clip key matches
(`affect.cache.reuse`); and the one-line clip summaries the per-clip stages log.
"""
from __future__ import annotations

import json
import logging
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir, atomic, digest, hashed_fields, stage_fingerprint
from affect.cache.reuse import KEY_FILE, find_donor, link_tree, read_key
from affect.stages.base import ClipError, InputError, RunOptions, Stage, StageReport

log = logging.getLogger(__name__)


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


def _plain(value: Any) -> Any:
    """A manifest value as the same JSON whichever way the row was taken (numpy scalar or Python; NaN: None)."""
    if isinstance(value, np.generic):
        value = value.item()
    return None if not isinstance(value, str) and pd.isna(value) else value


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
    reused_from: str | None = None  # the folder the last `produce` linked its clip from

    def run(self, opts: RunOptions) -> StageReport:
        self.reuse = not opts.overwrite
        return super().run(opts)

    def clip_key(self, clip: pd.Series) -> str | None:
        """What this clip's result depends on, hashed; None when an upstream result has no key."""
        from affect.cache import files_fingerprint
        from affect.data.manifest import resolve

        root = Path(self.cfg.corpus.root)
        row = {k: _plain(v) for k, v in clip.items() if k not in self.row_ignores}
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
        self.reused_from = None
        key = self.clip_key(clip) if self.reuse else None
        donor = find_donor(self.stage_root, self.output.path, str(clip["clip"]), key) if key else None
        if donor is None:
            summary = self.process(clip, folder)
        else:
            link_tree(donor, folder, skip=("summary.json", KEY_FILE))
            self.reuse_shared(donor.parent.parent, clip)
            summary = json.loads((donor / "summary.json").read_text())
            summary.pop("clip", None)
            self.reused_from = donor.parent.parent.name
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
        reused: dict[str, int] = {}
        if len(todo):
            self.setup()
        bar = tqdm(todo.iterrows(), total=len(todo), desc=desc or self.name, unit="clip", disable=None)  # on a terminal
        for i, (_, clip) in enumerate(bar, start=1):
            start = time.perf_counter()
            try:
                summary = self.write_clip(out, clip)
                if self.reused_from:  # one line per run below, not one per clip
                    reused[self.reused_from] = reused.get(self.reused_from, 0) + 1
                log.log(logging.DEBUG if self.reused_from else logging.INFO, "%s: [%d/%d] %s: %s (%.1f s)%s",
                        self.name, i, len(todo), clip["clip"], brief(summary), time.perf_counter() - start,
                        f", reused from {self.reused_from}" if self.reused_from else "")
                log.debug("%s: %s summary: %s", self.name, clip["clip"], summary)
            except ClipError as e:
                log.error("%s: [%d/%d] %s failed: %s", self.name, i, len(todo), clip["clip"], e)
                errors.append({"clip": clip["clip"], "file": e.file, "error": e.message})
            except Exception as e:  # one bad clip never stops the others
                log.exception("%s: [%d/%d] %s failed", self.name, i, len(todo), clip["clip"])
                errors.append({"clip": clip["clip"], "file": "", "error": f"{type(e).__name__}: {e}"})
        for folder, n in reused.items():
            log.info("%s: %d of %d clips reused from %s (same clip key: linked, not computed again)", self.name, n,
                     len(todo), folder)
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
