"""A one-video corpus under the cache root, and stages 00-05 on it, unchanged.

`affect infer` does not reimplement any stage: for each video (and side) it writes a clip list
(`corpus.layout=csv`: one unlabelled clip, split `test`, the video by its absolute path) in
`<cache_root>/infer/<name>-<key>/corpus[-<side>]/clips.csv` and runs stages 00 prepare ..
05 align with the bundle's config, pointed at that corpus. The corpus name holds a key of the
video's content (size, first and last MiB), so the stage folders
`<cache_root>/infer/<name>-<key>/<stage>/...` are found again, and nothing is recomputed, when
the same video is given again (stage 00 fingerprints the file's path, size and time as for any
corpus). A clip that a stage could not make raises `VideoFailed` with that stage's one-line
error (its errors.csv).
"""
from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from affect.config import Config
from affect.stages import get_stage
from affect.stages.base import RunOptions, Stage

log = logging.getLogger(__name__)

FEATURE_STAGES = ("prepare", "faces", "visual", "audio", "speech", "align")
CLIP_LIST = "clips.csv"
INFER_DIR = "infer"


class VideoFailed(RuntimeError):
    """One video cannot be predicted; the message is one line naming the file."""


def video_key(path: Path, chunk: int = 1 << 20) -> str:
    """12 hex digits of sha256 over the file's size and its first and last MiB (cheap for long videos)."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(chunk))
        if size > chunk:
            f.seek(max(size - chunk, chunk))
            h.update(f.read(chunk))
    return h.hexdigest()[:12]


def clip_id(stem: str, side: str | None) -> str:
    """A clip id the corpus readers accept (letters, digits, _ . -), from the video's name and side."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", stem) or "video"
    if not name[0].isalnum():
        name = f"v{name}"
    return f"{name}_{side}" if side else name


@dataclass
class VideoCorpus:
    video: Path
    side: str | None
    cache_root: Path  # the config's cache_root for this corpus: <cache>/infer
    name: str  # corpus name: its stage folders are <cache_root>/<name>/<stage>/
    clip: str
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of this process per stage (all its threads)

    @property
    def root(self) -> Path:
        return self.cache_root / self.name / (f"corpus-{self.side}" if self.side else "corpus")


def make_corpus(video: Path, side: str | None, cache_root: Path) -> VideoCorpus:
    video = Path(video).resolve()
    stem = clip_id(video.stem, None)
    corpus = VideoCorpus(video, side, Path(cache_root).resolve() / INFER_DIR, f"{stem}-{video_key(video)}",
                         clip_id(video.stem, side))
    corpus.root.mkdir(parents=True, exist_ok=True)
    text = pd.DataFrame([{"clip": corpus.clip, "video": str(video), "side": side or "", "split": "test"}]).to_csv(
        index=False)
    path = corpus.root / CLIP_LIST
    if not path.is_file() or path.read_text() != text:  # rewritten only when it changes: its time is fingerprinted
        path.write_text(text)
    return corpus


def point_config(cfg: Config, corpus: VideoCorpus) -> Config:
    """`cfg` (the bundle's config) reading `corpus` (changed in place; returned for convenience)."""
    cfg.corpus.root = str(corpus.root)
    cfg.corpus.name = corpus.name
    cfg.corpus.layout = "csv"
    cfg.corpus.csv = CLIP_LIST
    cfg.cache_root = str(corpus.cache_root)
    return cfg


def clip_failure(stage: Stage, clip: str) -> str | None:
    """Why `stage` has no result for `clip` (one line from its errors.csv), None when it has one."""
    out = stage.output
    if stage.name == "prepare":
        manifest = stage.manifest
        if clip in set(manifest["clip"]):
            return None
    elif not stage.per_clip or out.clip_done(clip):
        return None
    errors = out.path / "errors.csv"
    if errors.is_file():
        table = pd.read_csv(errors, keep_default_na=False)
        rows = table[table["clip"] == clip] if "clip" in table and (table["clip"] == clip).any() else table
        if len(rows):
            row = rows.iloc[0]
            error = str(row["error"])
            return error if str(row["file"]) and error.startswith(str(row["file"])) else \
                f"{row['file'] or stage.name}: {error}"
    return f"stage {stage.name} made nothing for clip {clip} (see {out.path / 'log.txt'})"


def run_feature_stages(cfg: Config, corpus: VideoCorpus, command: str = "",
                       after: Callable[[Stage], None] | None = None) -> Stage:
    """Stages 00-05 for the corpus's clip (each skipped when done); returns the align stage.

    `after(stage)` runs after each stage that produced the clip (the bundle checks the feature
    stages' backbones there). Raises `VideoFailed` with the first stage error.
    """
    first = get_stage(FEATURE_STAGES[0])(cfg)
    opts = RunOptions(command=command)
    stage = first
    for name in FEATURE_STAGES:
        stage = first.upstream(name)
        start, cpu = time.perf_counter(), time.process_time()
        stage.run(opts)
        corpus.timings[name] = corpus.timings.get(name, 0.0) + time.perf_counter() - start
        corpus.cpu[name] = corpus.cpu.get(name, 0.0) + time.process_time() - cpu
        why = clip_failure(stage, corpus.clip)
        if why is not None:  # the line names the video, whichever file the stage blamed
            raise VideoFailed(why if str(corpus.video) in why else f"{corpus.video}: {why}")
        if after is not None:
            after(stage)
    return stage
