"""One clip's embeddings from every backbone, in one pass over its face crops.

Rows are the sampled frames (`affect.visual.sampling`); a row is valid for a backbone when
the frame has a crop, the crop decoded, and the backbone's output is finite. Invalid rows
are masked (values 0 on disk), never filled in; non-finite outputs and undecodable crops are
logged with the clip's crop file and frame.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from affect.backbones.base import VisualBackbone
from affect.cache.series import Series
from affect.face.crops import BIN_NAME, CropReader
from affect.visual.loader import crop_loader
from affect.visual.sampling import sample_frames

log = logging.getLogger(__name__)


@dataclass
class ClipFeatures:
    series: dict[str, Series]  # backbone name -> its rows
    summary: dict[str, Any]


def shared_transforms(backbones: Sequence[VisualBackbone]) -> tuple[list[Any], list[int]]:
    """The distinct transforms (preprocessing done once per distinct one) and each backbone's index into them."""
    distinct: list[Any] = []
    index = []
    for bb in backbones:
        t = getattr(bb, "transform", bb.preprocess)
        if t not in distinct:
            distinct.append(t)
        index.append(distinct.index(t))
    return distinct, index


def extract_clip(crop_dir: Path, *, frames: int, fps: float, hop: float, backbones: Sequence[VisualBackbone],
                 batch_size: int = 64, workers: int = 0, pin_memory: bool = False) -> ClipFeatures:
    """Embed clip frames (all, or those the grid of `hop` seconds needs; hop 0 = all) with every backbone."""
    reader = CropReader(crop_dir)
    store = Path(crop_dir) / BIN_NAME
    if len(reader) != frames:
        log.warning("%s: crop index has %d frames, the manifest %d; frames beyond the index are no-face",
                    store, len(reader), frames)
    has = np.zeros(frames, bool)
    n = min(frames, len(reader))
    has[:n] = reader.has_crop[:n]
    rows = sample_frames(frames, fps, hop, has)
    todo = rows[has[rows]]
    values = {bb.name: np.zeros((len(rows), bb.dim), np.float32) for bb in backbones}
    valid = {bb.name: np.zeros(len(rows), bool) for bb in backbones}
    nonfinite = {bb.name: 0 for bb in backbones}
    transforms, which = shared_transforms(backbones)
    failed = 0
    if len(todo):
        batches = -(-len(todo) // batch_size)
        workers = min(workers, batches - 1)  # a worker only pays off when it can decode ahead of a forward pass
        loader = crop_loader(Path(crop_dir), todo, batch_size, transforms, workers, pin_memory)
        for batch in tqdm(loader, desc=Path(crop_dir).name, unit="batch", leave=False, disable=None):
            for frame, error in batch.failed:
                log.warning("%s: frame %d: crop does not decode (%s); frame masked", store, frame, error)
            failed += len(batch.failed)
            if not len(batch.frames):
                continue
            at = np.searchsorted(rows, batch.frames)
            for bb, k in zip(backbones, which):
                out = bb.forward(batch.inputs[k])
                ok = np.isfinite(out).all(axis=1)
                values[bb.name][at[ok]] = out[ok]
                valid[bb.name][at] = ok
                nonfinite[bb.name] += int((~ok).sum())
    for name, count in nonfinite.items():
        if count:
            log.warning("%s: %s gave NaN/inf for %d of %d frames; those frames are masked", store, name, count, len(todo))
    times = (rows + 0.5) / fps
    rate = fps if len(rows) == frames else 1.0 / hop
    series = {bb.name: Series(values[bb.name], times, valid[bb.name], rate) for bb in backbones}
    summary = {"frames": int(frames), "rows": int(len(rows)), "with_face": int(len(todo)), "undecodable": failed,
               **{f"valid:{name}": int(v.sum()) for name, v in valid.items()},
               **{f"nonfinite:{name}": c for name, c in nonfinite.items() if c}}
    return ClipFeatures(series, summary)
