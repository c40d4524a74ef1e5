"""Find a corpus's clips: which video, which label file, which side and split.

Two layouts: Aff-Wild2's (as distributed) and a generic CSV. Both give `ClipSource` records and
a list of problems (bad rows, missing files) that the caller records and skips.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from affect.config import ConfigError, CorpusConfig

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
SIDES = ("left", "right")
SPLIT_DIRS = {"Train_Set": "train", "Validation_Set": "validation"}
SPLITS = ("train", "validation", "test")
CLIP_ID = re.compile(r"^[^\W_][\w.\-]*$")  # letters (any script), digits, then also _ . -


@dataclass
class ClipSource:
    clip: str
    video: str
    video_path: Path | None
    label_path: Path | None
    side: str | None
    split: str
    crops_dir: Path | None = None
    origin: str = ""  # where the clip is declared, when not by its label or video file (a clip list's line)


@dataclass
class Problem:
    clip: str
    file: str
    error: str
    split: str = ""  # the split the clip was meant for, when known
    video_path: Path | None = None  # its video, when one is found (a rejected test clip is filled from it)


def split_side(clip: str) -> tuple[str, str | None]:
    """`video_left` → (`video`, `left`); other names have no side."""
    for side in SIDES:
        if clip.endswith(f"_{side}"):
            return clip[: -len(side) - 1], side
    return clip, None


def hidden(path: Path) -> bool:
    """A hidden file: `.name`, among them the `._name` resource forks macOS leaves on other disks."""
    return path.name.startswith(".")


def index_videos(folder: Path) -> dict[str, list[Path]]:
    """Every video file below `folder` by file stem (hidden files left out)."""
    found: dict[str, list[Path]] = {}
    if folder.is_dir():
        for p in sorted(folder.rglob("*")):
            if p.suffix.lower() in VIDEO_SUFFIXES and not hidden(p) and p.is_file():
                found.setdefault(p.stem, []).append(p)
    return found


def _find_video(clip: str, videos: dict[str, list[Path]]) -> tuple[str, Path | None]:
    """A video named as the clip, else as the clip without its side suffix; of several files with that
    name, the first in path order, said in a warning."""
    video = clip if clip in videos else split_side(clip)[0]
    if video not in videos:
        return video, None
    paths = videos[video]
    if len(paths) > 1:
        log.warning("clip %s: %d video files are named %s (%s); using %s: rename the others, or use "
                    "corpus.layout=csv to say which", clip, len(paths), video, ", ".join(map(str, paths)), paths[0])
    return video, paths[0]


def label_files(folder: Path) -> list[Path]:
    """A split folder's label files: `*.txt` in any case, hidden files left out."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".txt" and not hidden(p) and p.is_file())


def affwild2_sources(root: Path, cfg: CorpusConfig) -> tuple[list[ClipSource], list[Problem]]:
    videos = index_videos(root / cfg.videos_dir)
    crops_root = root / cfg.cropped_dir
    sources: list[ClipSource] = []
    problems: list[Problem] = []
    ann = root / cfg.annotations_dir
    if not ann.is_dir():
        problems.append(Problem("", str(ann), "annotation folder not found"))
    for split_dir, split in SPLIT_DIRS.items():
        for label in label_files(ann / split_dir):
            sources.append(_source(label.stem, label, split, videos, crops_root))
    test_list = root / cfg.test_list if cfg.test_list else None
    if test_list and test_list.is_file():
        for number, line in enumerate(test_list.read_text(encoding="utf-8-sig").splitlines(), start=1):
            name = line.strip()
            if not name:
                continue
            name = Path(name).stem if name.lower().endswith(VIDEO_SUFFIXES) else name
            if not CLIP_ID.match(name):
                problems.append(Problem(name, f"{test_list}:{number}", f"bad clip name {name!r} (letters, digits, "
                                                                    "then also _ . -)", "test",
                                        _find_video(name, videos)[1] if "/" not in name else None))
                continue
            sources.append(_source(name, None, "test", videos, crops_root))
    if not sources and not problems:
        problems.append(Problem("", str(ann), "no label files in Train_Set/ or Validation_Set/ and no test list"))
    return sources, problems


def _source(clip: str, label: Path | None, split: str, videos: dict[str, list[Path]], crops_root: Path) -> ClipSource:
    video, path = _find_video(clip, videos)
    crops = crops_root / clip
    return ClipSource(clip, video, path, label, split_side(clip)[1], split, crops if crops.is_dir() else None)


def csv_sources(root: Path, cfg: CorpusConfig) -> tuple[list[ClipSource], list[Problem]]:
    """Columns: clip, video (path), and optionally labels (path), side (left|right), split."""
    path = root / cfg.csv
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        return [], [Problem("", str(path), f"cannot read the clip list: {e}")]
    missing = {"clip", "video"} - set(table.columns)
    if missing:
        return [], [Problem("", str(path), f"missing column(s) {sorted(missing)}; have {list(table.columns)}")]
    sources, problems = [], []
    for i, row in table.iterrows():
        where = f"{path}:{i + 2}"
        clip = row["clip"].strip()
        side = row.get("side", "").strip().lower() or None
        split = row.get("split", "").strip().lower() or "train"
        if not CLIP_ID.match(clip):
            problems.append(Problem(clip, where, f"bad clip id {clip!r} (letters, digits, then also _ . -)",
                                    split if split in SPLITS else ""))
        elif side not in (None, *SIDES):
            problems.append(Problem(clip, where, f"side must be left or right, got {side!r}",
                                    split if split in SPLITS else ""))
        elif split not in SPLITS:
            problems.append(Problem(clip, where, f"split must be one of {SPLITS}, got {split!r}"))
        else:
            video_path = root / row["video"].strip()
            labels = row.get("labels", "").strip()
            crops = root / cfg.cropped_dir / clip
            sources.append(ClipSource(clip, video_path.stem, video_path, root / labels if labels else None,
                                      side, split, crops if crops.is_dir() else None, where))
    return _distinct_videos(sources, root), problems


def _distinct_videos(sources: list[ClipSource], root: Path) -> list[ClipSource]:
    """One video id per video file: files that share a name (`a/take1.mp4`, `b/take1.mp4`, `x.mkv` and
    `x.mov`) get their name plus a hash of their path, so that neither audio, features nor folds are shared."""
    files: dict[str, set[Path]] = {}
    for s in sources:
        files.setdefault(s.video, set()).add(s.video_path.resolve())
    base = root.resolve()
    for s in sources:
        if len(files[s.video]) > 1:
            path = s.video_path.resolve()
            where = path.relative_to(base) if path.is_relative_to(base) else path
            s.video = f"{s.video}-{hashlib.sha1(where.as_posix().encode()).hexdigest()[:6]}"
    return sources


def missing_test_list(root: Path, cfg: CorpusConfig) -> Path | None:
    """The configured test list when it is configured (affwild2 layout) but not a file."""
    if cfg.layout != "affwild2" or not cfg.test_list:
        return None
    path = root / cfg.test_list
    return None if path.is_file() else path


def unused_videos(root: Path, cfg: CorpusConfig, sources: list[ClipSource]) -> list[Path]:
    """Video files under `videos_dir` that no clip of any split uses (sorted)."""
    used = {p.resolve() for s in sources if (p := s.video_path) is not None}
    return [p for paths in index_videos(root / cfg.videos_dir).values() for p in paths if p.resolve() not in used]


def find_sources(root: Path, cfg: CorpusConfig) -> tuple[list[ClipSource], list[Problem]]:
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    if cfg.layout == "affwild2":
        return affwild2_sources(root, cfg)
    if cfg.layout == "csv":
        return csv_sources(root, cfg)
    raise ConfigError(f"corpus.layout must be 'affwild2' or 'csv', got {cfg.layout!r}")
