"""Training data from stage 05's folder: splits, normalisation, windows.

* Splits are by clip, read from each clip's ``grid.json``: the corpus's own train/validation, or
  with ``fold=k`` validate on prepare's fold k and train on the other folds. A video never lands
  in two splits (checked). ``fold=k`` is refused when it would train on clips of the corpus's
  validation split (stages 08/09 would then score training clips as validation); a corpus
  without validation clips is refused with one line saying what to add (``SplitError``).
* The inner development set (``dev``, ``plan_split``): with ``train.select=dev`` a share of the
  training *videos* (``_left``/``_right`` together, chosen by a hash of the video name, so the same
  corpus always gives the same set) is held out of fitting; early stopping, the unimodal ranking,
  fusion's top-k and stack and stage 08's smoothing windows are chosen on it, and the validation
  split is scored once, by models that never saw it. The training videos are dealt, in hash order,
  into ``round(1 / dev_fraction)`` groups; with ``train.dev_rotate`` the k-th member (seed) of a
  model holds out group k, so with several seeds the choices are made on the union of the groups,
  each clip predicted by the members that held it out (cross-fitting: 3 seeds at 0.2 choose on 60 %
  of the training videos instead of 20 %, and the ensemble still trains on every one). ``train.select=validation`` chooses on the validation
  split instead (what most published ABAW systems do; every figure it touches is then marked).
* Normalisation: per feature set, mean and std of the valid steps of the *training* clips only,
  accumulated in float64 one clip at a time (memory independent of corpus size).
* Windows: W steps every S steps of each clip, the last one flush with the clip's end; clips
  shorter than W give one window, padded (``pad`` = False on the padding). Arrays stay
  memory-mapped; a window reads only its rows.
* Loader settings fitted to the data (``fit_loader``): W no longer than the longest training
  clip, a batch small enough for ``MIN_STEPS`` optimiser steps per epoch, loader processes no
  more than the cores allow and none where the training arrays are small (memory-mapped reads
  cost less than a process); a run logs what it changed once.
"""
from __future__ import annotations

import hashlib
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from affect.train.aligned import AlignedClip, list_clips, load_clip

log = logging.getLogger(__name__)
OPEN_CLIPS = 16  # memory-mapped clips a dataset keeps open
MIN_STEPS = 4  # optimiser steps per epoch that the batch size is capped to allow (when there are windows enough)
SMALL_ARRAYS = 256 * 2**20  # training arrays (bytes on disk) below which the loader reads in the main process


SELECT = ("dev", "validation")


class SplitError(ValueError):
    """A split that cannot be made as configured; the message is one line that says what to change."""


@dataclass
class Split:
    train: list[str]  # the clips the model is fitted on
    validation: list[str]  # the clips it is scored on (once, with select=dev)
    dev: list[str] = field(default_factory=list)  # the inner development set (from training videos); [] = select on validation

    @property
    def selected_on(self) -> str:
        """Where early stopping and the other choices are made: "dev" or "validation"."""
        return "dev" if self.dev else "validation"

    @property
    def selection(self) -> list[str]:
        """The clips choices are made on."""
        return self.dev or self.validation

    @property
    def seen(self) -> list[str]:
        """Every clip whose labels the run used (fitted on, or chosen on as inner dev set)."""
        return self.train + self.dev


def make_split(align_dir: Path, fold: int = -1, cv: bool = False) -> Split:
    """Clips of each split (test clips never train); ValueError when a video is in both, SplitError when
    a lone ``fold=k`` (not one fold of ``cv``, where every clip is scored out of fold) would train on the
    corpus's validation clips, or a split is empty."""
    train, val, video_of, official_val = [], [], {}, []
    for clip in list_clips(align_dir):
        info = load_clip(align_dir, clip, features=[]).info
        video_of[clip] = info.get("video", clip)
        if fold < 0:
            target = {"train": train, "validation": val}.get(info["split"])
        elif info["split"] == "test" or info.get("fold") is None:
            target = None
        else:
            target = val if int(info["fold"]) == fold else train
        if target is not None:
            target.append(clip)
        if info["split"] == "validation":
            official_val.append(clip)
    both = sorted({video_of[c] for c in train} & {video_of[c] for c in val})
    if both:
        raise ValueError(f"video(s) in both train and validation: {', '.join(both)}")
    leaked = [] if cv else sorted(set(train) & set(official_val))
    if leaked:
        raise SplitError(f"train.fold={fold} would train on {len(leaked)} clip(s) of the corpus's validation split "
                         f"({', '.join(leaked[:5])}{', ...' if len(leaked) > 5 else ''}), which stages 08-09 score as "
                         "validation: use fold=-1 (the corpus's split) or train.cv=true (every clip scored out of fold)")
    if fold < 0 and not val:
        raise SplitError(f"the corpus has no validation clips (no Validation_Set labels reached {align_dir}): add them, "
                         "or set unimodal.train.cv=true fusion.train.cv=true to validate out of fold on prepare's folds")
    for name, clips in (("train", train), ("validation", val)):
        if not clips:
            raise SplitError(f"the {name} split is empty (fold={fold}) in {align_dir}")
    return Split(train, val)


def dev_groups(videos: list[str], fraction: float) -> list[set[str]]:
    """``videos`` dealt into ``round(1 / fraction)`` groups (at least 2, at most one per video) in the order of
    the SHA-1 of their names: deterministic, of sizes within one of each other, each about ``fraction``."""
    ranked = sorted(set(videos), key=lambda v: (hashlib.sha1(v.encode()).hexdigest(), v))
    count = min(len(ranked), max(2, int(round(1.0 / fraction))))
    return [set(ranked[g::count]) for g in range(count)]


def dev_videos(videos: list[str], fraction: float, group: int = 0) -> set[str]:
    """The inner development set of member ``group``: group ``group`` (modulo their count) of ``dev_groups``,
    about ``fraction`` of ``videos``, at least 1, never all."""
    groups = dev_groups(videos, fraction)
    return groups[group % len(groups)]


def carve_dev(align_dir: Path, split: Split, fraction: float, group: int = 0) -> Split:
    """``split`` with group ``group`` of its training videos (``_left``/``_right`` together; ``dev_videos``)
    moved to ``dev``; unchanged (selection on validation, with a warning) when it has a single training video."""
    if not 0.0 < fraction < 1.0:
        raise SplitError(f"train.dev_fraction must be in (0, 1), got {fraction}")
    video_of = {c: str(load_clip(align_dir, c, features=[]).info.get("video", c)) for c in split.train}
    if len(set(video_of.values())) < 2:  # e.g. a --limit 2 run: say so, and every table marks it
        log.warning("%d training video(s) in %s: no inner development set can be carved, choices are made on the "
                    "validation split (figures marked 'selected on validation'); add training videos to avoid it",
                    len(set(video_of.values())), align_dir)
        return split
    held = dev_videos(list(video_of.values()), fraction, group)
    return Split([c for c in split.train if video_of[c] not in held], split.validation,
                 [c for c in split.train if video_of[c] in held])


def plan_split(align_dir: Path, fold: int, select: str = "dev", dev_fraction: float = 0.2, cv: bool = False,
               group: int = 0) -> Split:
    """The split of one run: ``make_split`` and, with ``select="dev"``, its inner development set (group
    ``group`` of the training videos: a model's k-th member holds out group k with ``train.dev_rotate``)."""
    return plan_splits(align_dir, fold, select, dev_fraction, cv, [group])[0]


def plan_splits(align_dir: Path, fold: int, select: str, dev_fraction: float, cv: bool,
                groups: list[int]) -> list[Split]:
    """``plan_split`` for each of ``groups`` (a model's members), the corpus's split read once."""
    if select not in SELECT:
        raise SplitError(f"train.select must be one of {', '.join(SELECT)}, got {select!r}")
    split = make_split(align_dir, fold, cv)
    return [carve_dev(align_dir, split, dev_fraction, g) if select == "dev" else split for g in groups]


def check_labelled(align_dir: Path, clips: list[str], split: str) -> None:
    """ValueError when a split has no valid label in one of the dimensions."""
    counts = np.zeros(2, np.int64)
    for clip in clips:
        counts += (~np.isnan(load_clip(align_dir, clip, features=[]).labels)).sum(axis=0)
    if (counts == 0).any():
        raise ValueError(f"the {split} split has no labelled frames (valence {counts[0]}, arousal {counts[1]}) "
                         f"in clips: {', '.join(clips[:20])}")


def fit_normaliser(align_dir: Path, clips: list[str], features: list[str]) -> dict[str, dict[str, list[float]]]:
    """name -> {"mean": [D], "std": [D]} over the valid steps of ``clips``; ValueError naming clips with NaN."""
    norm, bad = {}, []
    for name in features:
        n, s, ss = 0, 0.0, 0.0
        for clip in clips:
            f = load_clip(align_dir, clip, [name]).features[name]
            v = np.asarray(f.values[f.mask], np.float64)
            if not np.isfinite(v).all():
                bad.append(f"{clip} ({name})")
                continue
            n, s, ss = n + len(v), s + v.sum(0), ss + (v * v).sum(0)
        if n == 0:
            raise ValueError(f"feature set {name!r} has no valid step in the training clips")
        mean = s / n
        std = np.sqrt(np.maximum(ss / n - mean * mean, 0.0))
        norm[name] = {"mean": mean.tolist(), "std": np.where(std > 1e-6, std, 1.0).tolist()}
    if bad:
        raise ValueError(f"NaN/inf in features of clip(s): {', '.join(bad[:20])}")
    return norm


@dataclass
class LoaderPlan:
    """What a training run uses: window W, stride S, batch size, loader processes, and what was changed."""

    window: int
    stride: int
    batch_size: int
    workers: int
    changes: list[str]


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def array_bytes(align_dir: Path, clips: list[str], features: list[str]) -> int:
    """Bytes on disk of ``features``' arrays (grid and sub-step) over ``clips``."""
    total = 0
    for clip in clips:
        d = Path(align_dir) / "clips" / clip
        for name in features:
            for suffix in (".npy", ".sub.npy"):
                path = d / f"{name}{suffix}"
                if path.is_file():
                    total += path.stat().st_size
    return total


def fit_loader(clip_steps: list[int], window: int, stride: int, batch_size: int, workers: int, world: int = 1,
               data_bytes: int = 0, cores: int | None = None) -> LoaderPlan:
    """Window, stride, batch and loader processes that fit the training set (``clip_steps``: steps per clip).

    W is capped to the longest clip (a longer window is padding); S to W; the batch to
    ceil(windows / MIN_STEPS) (at least ``world``), so a small corpus still takes several
    optimiser steps per epoch; workers to the cores less one (the trainer's), and to 0 when the
    arrays are under SMALL_ARRAYS bytes (memory-mapped, small: a process would cost more than it reads).
    """
    changes = []
    longest = max(clip_steps) if clip_steps else window
    w = max(1, min(window, longest))
    if w != window:
        changes.append(f"window {window} -> {w} steps (the longest training clip)")
    s = max(1, min(stride, w))
    if s != stride:
        changes.append(f"stride {stride} -> {s}")
    n = sum(len(window_starts(steps, w, s)) for steps in clip_steps)
    b = max(world, min(batch_size, math.ceil(n / MIN_STEPS)))
    if b != batch_size:
        changes.append(f"batch {batch_size} -> {b} ({n} training windows, {math.ceil(n / b)} steps per epoch)")
    k = min(workers, max((cores or usable_cores()) - 1, 0))
    if k and data_bytes < SMALL_ARRAYS:
        k = 0
    if k != workers:
        why = (f"training arrays {data_bytes / 2**20:.1f} MB, memory-mapped: read in the main process"
               if workers and k == 0 and data_bytes < SMALL_ARRAYS else f"{cores or usable_cores()} core(s)")
        changes.append(f"loader workers {workers} -> {k} ({why})")
    return LoaderPlan(w, s, b, k, changes)


class EpochBatches:
    """A batch sampler whose batches are set per epoch, so one DataLoader (and its worker
    processes, kept alive with ``persistent_workers``) serves every epoch of a run."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def window_starts(steps: int, window: int, stride: int) -> list[int]:
    """Starts 0, S, 2S, ... and one flush with the end; [0] for a clip shorter than W."""
    if steps <= window:
        return [0]
    starts = list(range(0, steps - window + 1, stride))
    if starts[-1] != steps - window:
        starts.append(steps - window)
    return starts


class Windows:
    """A map-style dataset of training windows: dict of numpy arrays per window (see ``window``)."""

    def __init__(self, align_dir: Path, clips: list[str], features: list[str], norm: dict,
                 window: int, stride: int, substeps: dict[str, int] | None = None):
        self.align_dir, self.features, self.norm, self.window = Path(align_dir), features, norm, window
        self.substeps = substeps or {}
        self._open: dict[str, AlignedClip] = {}
        self.index = []
        for clip in clips:
            steps = load_clip(align_dir, clip, features=[]).steps
            self.index += [(clip, s) for s in window_starts(steps, window, stride)]

    def __len__(self) -> int:
        return len(self.index)

    def clip(self, clip: str) -> AlignedClip:
        """The clip's memory maps; the last OPEN_CLIPS stay open (so pages read stay bounded, not the corpus)."""
        if clip in self._open:
            self._open[clip] = self._open.pop(clip)
        else:
            self._open[clip] = load_clip(self.align_dir, clip, self.features)
            while len(self._open) > OPEN_CLIPS:
                self._open.pop(next(iter(self._open)))
        return self._open[clip]

    def __getitem__(self, i: int) -> dict:
        clip, start = self.index[i]
        return window(self.clip(clip), self.features, self.norm, start, self.window, self.substeps)


def window(c: AlignedClip, features: list[str], norm: dict, start: int, length: int,
           substeps: dict[str, int] | None = None) -> dict:
    """Steps [start, start + length) of a clip, padded at the end: x/m per feature (normalised,
    masked rows 0), sub/sub_m for conv front ends, y [W, 2] (NaN = invalid), pad [W] (True = real)."""
    stop = min(start + length, c.steps)
    n = stop - start
    out: dict = {"x": {}, "m": {}, "sub": {}, "sub_m": {}}
    for name in features:
        f = c.features[name]
        mean = np.asarray(norm[name]["mean"], np.float32)
        std = np.asarray(norm[name]["std"], np.float32)
        x = np.zeros((length, f.values.shape[1]), np.float32)
        m = np.zeros(length, bool)
        m[:n] = f.mask[start:stop]
        x[:n] = (np.asarray(f.values[start:stop], np.float32) - mean) / std
        x[~m] = 0.0
        out["x"][name], out["m"][name] = x, m
        k = (substeps or {}).get(name, 0)
        if k:
            sx = np.zeros((length * k, f.values.shape[1]), np.float32)
            sm = np.zeros(length * k, bool)
            sm[: n * k] = f.sub_mask[start * k: stop * k]
            sx[: n * k] = (np.asarray(f.sub_values[start * k: stop * k], np.float32) - mean) / std
            sx[~sm] = 0.0
            out["sub"][name], out["sub_m"][name] = sx, sm
    y = np.full((length, 2), np.nan, np.float32)
    y[:n] = c.labels[start:stop]
    pad = np.zeros(length, bool)
    pad[:n] = True
    out["y"], out["pad"] = y, pad
    return out


def collate(items: list[dict]) -> dict:
    """Stack windows into torch tensors (same nesting)."""
    import torch

    def stack(values: list) -> object:
        if isinstance(values[0], dict):
            return {k: stack([v[k] for v in values]) for k in values[0]}
        return torch.from_numpy(np.stack(values))

    return stack(items)


def to_device(batch: dict, device) -> dict:
    return {k: to_device(v, device) if isinstance(v, dict) else v.to(device) for k, v in batch.items()}
