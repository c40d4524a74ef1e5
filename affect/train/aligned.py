"""Stage 05's output, per clip: labels and every feature set on the clip's time grid.

Layout of ``<align_dir>/clips/<clip>/`` (plain ``.npy`` files, memory-mapped when read, so a
training run holds only the windows it is using, whatever the corpus size)::

    grid.json              hop, steps, fps, frames, video, split, fold, has_audio
    labels.npy             float32 [steps, 2]  (valence, arousal), NaN = invalid, per dimension
    <feature>.npy          float16 [steps, D]  masked steps hold interpolated values, never NaN
    <feature>.mask.npy     bool    [steps]     True = valid (face found / speech / valid frame)
    <feature>.sub.npy      float16 [steps * k, D]  speech only (align.substeps): k sub-steps per step,
    <feature>.sub_mask.npy bool    [steps * k]     for a learned strided-conv front end

``<align_dir>/features.json`` maps each feature set to {modality, dim, substeps (k, 0 = none), source}.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FEATURES_JSON = "features.json"
GRID_JSON = "grid.json"


@dataclass
class AlignedFeature:
    values: np.ndarray  # [steps, D] (float16, memory-mapped)
    mask: np.ndarray  # [steps] bool
    sub_values: np.ndarray | None = None  # [steps * k, D] or None
    sub_mask: np.ndarray | None = None  # [steps * k] bool or None

    @property
    def substeps(self) -> int:
        return 0 if self.sub_values is None else len(self.sub_values) // max(len(self.values), 1)


@dataclass
class AlignedClip:
    clip: str
    hop: float
    times: np.ndarray  # [steps] float64, step centres in seconds
    labels: np.ndarray  # [steps, 2] float32, NaN = invalid
    info: dict = field(default_factory=dict)  # grid.json: fps, frames, video, split, fold, has_audio
    features: dict[str, AlignedFeature] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.times)


def read_features(align_dir: Path) -> dict[str, dict]:
    """The feature sets stage 05 aligned: name -> {modality, dim, substeps, source}."""
    path = Path(align_dir) / FEATURES_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: is {align_dir} a finished stage-05 `align` folder?")
    return json.loads(path.read_text())


def list_clips(align_dir: Path) -> list[str]:
    root = Path(align_dir) / "clips"
    return sorted(p.name for p in root.iterdir() if (p / GRID_JSON).is_file()) if root.is_dir() else []


def check_features(wanted: list[str], available: dict | list, what: str = "feature set") -> list[str]:
    """``wanted`` (empty = all available) after checking every name exists; ValueError naming the others."""
    names = list(available)
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(map(repr, unknown))}; available: "
                         f"{', '.join(names) or '(none)'}")
    return list(wanted) if wanted else names


def load_clip(align_dir: Path, clip: str, features: list[str] | None = None, mmap: bool = True) -> AlignedClip:
    """One clip's grid, labels and feature sets (all, or ``features``), memory-mapped by default."""
    d = Path(align_dir) / "clips" / clip
    if not (d / GRID_JSON).is_file():
        raise FileNotFoundError(f"clip {clip!r} not in {align_dir} (no {d / GRID_JSON})")
    info = json.loads((d / GRID_JSON).read_text())
    mode = "r" if mmap else None
    names = check_features(features or [], read_features(align_dir))
    feats = {}
    for name in names:
        sub = d / f"{name}.sub.npy"
        feats[name] = AlignedFeature(
            values=np.load(d / f"{name}.npy", mmap_mode=mode), mask=np.load(d / f"{name}.mask.npy"),
            sub_values=np.load(sub, mmap_mode=mode) if sub.is_file() else None,
            sub_mask=np.load(d / f"{name}.sub_mask.npy") if sub.is_file() else None)
    hop = float(info["hop"])
    return AlignedClip(clip=clip, hop=hop, times=(np.arange(info["steps"]) + 0.5) * hop,
                       labels=np.load(d / "labels.npy"), info=info, features=feats)


def write_clip(out: Path, info: dict, labels: np.ndarray, features: dict[str, AlignedFeature]) -> None:
    """Write one clip's aligned arrays into the (empty, temporary) folder ``out``."""
    steps = int(info["steps"])
    if labels.shape != (steps, 2):
        raise ValueError(f"labels {labels.shape} != [{steps}, 2]")
    np.save(out / "labels.npy", labels.astype(np.float32))
    for name, f in features.items():
        if f.values.shape[0] != steps or f.mask.shape != (steps,):
            raise ValueError(f"{name}: values {f.values.shape} / mask {f.mask.shape} do not have {steps} steps")
        np.save(out / f"{name}.npy", np.asarray(f.values, np.float16))
        np.save(out / f"{name}.mask.npy", np.asarray(f.mask, bool))
        if f.sub_values is not None:
            np.save(out / f"{name}.sub.npy", np.asarray(f.sub_values, np.float16))
            np.save(out / f"{name}.sub_mask.npy", np.asarray(f.sub_mask, bool))
    (out / GRID_JSON).write_text(json.dumps(info, indent=1) + "\n")
