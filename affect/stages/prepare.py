"""Stage 00 `prepare`: the manifest of clips, labels on video frames, folds by video.

Every clip it cannot use (no video, unreadable video or label file, label count off from the
frame count by more than `prepare.max_count_diff`, bad name in the test list) is written to
`rejected.csv` with the reason and, when its video can be read, the video's frame count: stage
08 fills or refuses the test submission from it, stage 09 lists it.
""" 
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir, digest, files_fingerprint, hashed_fields
from affect.cache.fingerprint import corpus_name
from affect.cache import atomic
from affect.data.folds import assign_folds
from affect.data.labels import LabelFileError, read_va_file
from affect.data.manifest import COLUMNS, MANIFEST, REJECTED, REJECTED_COLUMNS, frame_times_path, labels_path
from affect.data.probe import ProbeError, VideoInfo, probe_video
from affect.data.sources import ClipSource, Problem, find_sources, missing_test_list, unused_videos
from affect.stages.base import ClipError, InputError, RunOptions, Stage, StageReport

log = logging.getLogger(__name__)


def relative(path: Path | None, root: Path) -> str:
    """`path` relative to the corpus root as it is spelled (a symlinked `videos/` or `annotations/`
    stays inside the root), else relative to the resolved root, else absolute."""
    return "" if path is None else corpus_name(path, root)


class PrepareStage(Stage):
    """Reads the corpus, probes every video, reconciles labels with frames, writes the manifest."""

    name = "prepare"
    number = 0
    version = 3  # 2: rejected.csv; decoded frame count, stream starts and frame clock in the manifest
    # 3: csv layout: one video id per video file (files sharing a name no longer share one)

    @property
    def root(self) -> Path:
        root = Path(self.cfg.corpus.root)
        if not root.is_dir():
            where = root if root.is_absolute() else f"{root} ({root.resolve()})"
            raise InputError(f"corpus root {where} does not exist or is not a folder: set "
                             "corpus.root=<folder> on the command line or in the config file "
                             "(to try the pipeline without a corpus: make demo)")
        return root

    def log_sections(self) -> dict[str, Any]:
        return {"corpus": self.cfg.corpus, "prepare": self.cfg.prepare}

    def variant(self) -> str:
        return self.cfg.corpus.layout

    def extra_inputs(self) -> dict[str, str]:
        sources, _ = find_sources(self.root, self.cfg.corpus)
        files = {p for s in sources for p in (s.video_path, s.label_path, s.crops_dir) if p is not None and p.exists()}
        for extra in (self.cfg.corpus.csv, self.cfg.corpus.test_list):
            if extra and (self.root / extra).is_file():
                files.add(self.root / extra)
        return {"corpus": digest(hashed_fields(self.cfg.corpus)),
                "files": files_fingerprint(self.root, files) if files else ""}

    def plan(self) -> str:
        sources, problems = find_sources(self.root, self.cfg.corpus)
        return f"{len(sources)} clips found in {self.root} ({len(problems)} problems)"

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        sources, problems = find_sources(self.root, self.cfg.corpus)
        errors = [{"clip": p.clip, "file": p.file, "error": p.error} for p in problems]
        rejected = [{"clip": p.clip, "split": p.split, "video": "", "file": p.file, "reason": p.error,
                     "video_frames": self.countable_frames(p), "position": None} for p in problems if p.clip]
        for e in errors:
            log.error("prepare: %s: %s", e["file"], e["error"])
        no_test_list = missing_test_list(self.root, self.cfg.corpus)
        if no_test_list is not None:
            log.warning("prepare: the test list %s (corpus.test_list) does not exist: no test clips", no_test_list)
        unused = [relative(p, self.root) for p in unused_videos(self.root, self.cfg.corpus, sources)]
        if unused:
            log.warning("prepare: %d video(s) that no split uses (no label file, not in the test list): %s",
                        len(unused), ", ".join(unused))
        first_file: dict[str, str] = {}
        first_split: dict[str, str] = {}
        accepted: set[str] = set()
        rows: list[dict[str, Any]] = []
        if opts.limit is not None:
            log.info("prepare: reads the whole corpus (folds and manifest do not depend on --limit %d)", opts.limit)
        for src in tqdm(sources, desc="prepare", unit="clip", disable=None):
            origin = src.origin or str(src.label_path or src.video_path)
            if src.clip in first_file:
                err = {"clip": src.clip, "file": origin, "error": f"duplicate clip id (first seen in {first_file[src.clip]}); skipped"}
                lost = None
                if src.clip not in accepted:  # its first occurrence was rejected as well: the clip is lost
                    lost = f"its id is also that of {first_file[src.clip]}, which stage 00 rejected (duplicate clip id)"
                elif src.split == "test" and first_split[src.clip] != "test":  # never submitted: said, not dropped
                    lost = (f"also a {first_split[src.clip]} clip ({first_file[src.clip]}): a clip the models train or "
                            "are chosen on is not predicted for the test submission; remove it from one of the two")
                    err["error"] = f"test clip {lost}"
                if lost:
                    rejected.append({"clip": src.clip, "split": src.split, "video": src.video, "file": origin,
                                     "reason": lost, "video_frames": self.countable_frames(src),
                                     "position": sum(r["split"] == src.split for r in rows)})
            else:
                first_file[src.clip], first_split[src.clip] = origin, src.split
                try:
                    row, labels, times = self.prepare_clip(src)
                    if labels is not None:
                        atomic.save_npy(labels_path(out.path, src.clip), labels)
                    if times is not None:
                        atomic.save_npy(frame_times_path(out.path, src.clip), times)
                    rows.append(row)
                    accepted.add(src.clip)
                    continue
                except ClipError as e:
                    err = {"clip": src.clip, "file": str(e.file), "error": e.message}
                except LabelFileError as e:
                    err = {"clip": src.clip, "file": f"{e.path}:{e.line}" if e.line else str(e.path), "error": e.message}
                rejected.append({"clip": src.clip, "split": src.split, "video": src.video, "file": err["file"],
                                 "reason": err["error"], "video_frames": self.countable_frames(src),
                                 "position": sum(r["split"] == src.split for r in rows)})
            log.error("prepare: clip %s: %s: %s", err["clip"], err["file"], err["error"])
            errors.append(err)
        table = pd.DataFrame(rows, columns=COLUMNS)
        labelled = table["split"] != "test"
        table["fold"] = pd.Series(pd.NA, index=table.index, dtype="Int64")
        if labelled.any():
            table.loc[labelled, "fold"] = assign_folds(table.loc[labelled, "video"], table.loc[labelled, "frames"],
                                                       self.cfg.prepare.folds, self.cfg.prepare.fold_seed)
        with atomic.atomic_path(out.path / MANIFEST) as tmp:
            table.to_csv(tmp, index=False)
        out.save_errors(errors)
        with atomic.atomic_path(out.path / REJECTED) as tmp:
            pd.DataFrame(rejected, columns=REJECTED_COLUMNS).astype({"video_frames": "Int64", "position": "Int64"}).to_csv(tmp, index=False)
        if rejected:
            log.warning("prepare: %d clip(s) rejected (listed in %s): %s", len(rejected), out.path / REJECTED,
                        ", ".join(f"{r['clip']} ({r['split'] or '?'})" for r in rejected))
            test = [r["clip"] for r in rejected if r["split"] == "test"]
            if test and self.cfg.predict.missing == "fail":  # said now, not after hours of training
                log.warning("prepare: %d test clip(s) rejected (%s): stage 08 will refuse to write an incomplete "
                            "test submission; fix the file(s), or set predict.missing=zeros|mean to fill them",
                            len(test), ", ".join(test))
        log.info("prepare: %d clips (%s), %d problems, %d unused video(s); manifest %s", len(table),
                 ", ".join(f"{n} {s}" for s, n in table["split"].value_counts().items()), len(errors), len(unused),
                 out.path / MANIFEST)
        out.mark_done({"clips": len(table), "failed": [e["clip"] for e in errors],
                       "rejected": [r["clip"] for r in rejected], "unused_videos": unused,
                       "test_list": "" if no_test_list is None else f"missing: {relative(no_test_list, self.root)}"})
        return StageReport(self.name, out.path, "ran", len(table), len(errors))

    @staticmethod
    def countable_frames(src: ClipSource | Problem) -> int | None:
        """The frame count of a rejected clip's video, when the video exists and can be read."""
        if src.video_path is None or not src.video_path.is_file():
            return None
        try:
            return probe_video(src.video_path).frames
        except ProbeError:
            return None

    def prepare_clip(self, src: ClipSource) -> tuple[dict[str, Any], np.ndarray | None, np.ndarray | None]:
        """(manifest row, labels or None, frame times of a variable-frame-rate video or None)."""
        if src.video_path is None or not src.video_path.is_file():
            where = src.video_path or self.root / self.cfg.corpus.videos_dir / f"{src.video}.mp4"
            raise ClipError(where, f"video of clip {src.clip} not found")
        try:
            info = probe_video(src.video_path)
        except ProbeError as e:
            raise ClipError(src.video_path, str(e).removeprefix(f"{src.video_path}: ")) from None
        labels = read_va_file(src.label_path) if src.label_path else None
        if labels is None:
            frames, diff, reconcile = info.frames, None, "no labels: one row per video frame"
        else:
            frames, diff = len(labels), len(labels) - info.frames
            if abs(diff) > self.cfg.prepare.max_count_diff:
                header = (f"; its header declares {info.header_frames}: a truncated or damaged file?"
                          if info.header_frames and info.header_frames != info.frames else "")
                raise ClipError(src.label_path, f"{len(labels)} label lines but the video {src.video_path} has "
                                f"{info.frames} frames (difference {diff} > prepare.max_count_diff{header})")
            if diff > 0:
                reconcile = f"labels {diff} longer: their last {diff} frames have no image (no face)"
            elif diff < 0:
                reconcile = f"video {-diff} frames longer: the extra frames are ignored"
            else:
                reconcile = "equal"
            if diff:
                log.info("prepare: clip %s: %s", src.clip, reconcile)
            if len(labels) and np.isnan(labels).all():
                log.warning("prepare: clip %s: every label line of %s is -5 (invalid): the clip adds nothing to "
                            "training or to the scores", src.clip, src.label_path)
        row = {
            "clip": src.clip, "video": src.video, "side": src.side or "", "split": src.split,
            "video_path": relative(src.video_path, self.root), "label_path": relative(src.label_path, self.root),
            "crops_dir": relative(src.crops_dir, self.root), "fps": info.fps, "video_frames": info.frames,
            "label_frames": len(labels) if labels is not None else None, "frames": frames,
            "duration": frames / info.fps, "has_audio": info.has_audio, "audio_rate": info.audio_rate,
            "width": info.width, "height": info.height,
            "invalid_frames": int(np.isnan(labels).any(axis=1).sum()) if labels is not None else 0,
            "count_diff": diff, "reconcile": reconcile, **clock_columns(src.clip, info),
        }
        return row, labels, info.frame_times


def clock_columns(clip: str, info: VideoInfo) -> dict[str, Any]:
    """The manifest's clock columns; logs a header count that differs and a variable frame rate."""
    if info.header_frames and info.header_frames != info.frames:
        log.warning("prepare: clip %s: the container header says %d frames, a decoder yields %d: the clip has %d",
                    clip, info.header_frames, info.frames, info.frames)
    if info.variable_rate:
        log.warning("prepare: clip %s: variable frame rate (a frame %.0f ms off index / %.3f fps): frame times "
                    "from presentation timestamps", clip, info.clock_offset * 1000, info.fps)
    return {"header_frames": info.header_frames, "video_start": round(info.video_start, 6),
            "audio_start": None if info.audio_start is None else round(info.audio_start, 6),
            "frame_clock": "variable" if info.variable_rate else "constant",
            "clock_offset_ms": round(info.clock_offset * 1000, 3)}
