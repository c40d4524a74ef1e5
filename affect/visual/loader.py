"""Batches of one clip's face crops, decoded and preprocessed in DataLoader workers.

Each item is one batch: the JPEGs of up to `batch_size` frames are read from the clip's crop
store (one memory map), decoded, and turned into every distinct input the backbones need
(backbones with equal transforms share one tensor), while the main process runs the
forward passes of the previous batch. A crop that fails to decode is left out of the batch
and reported (frame and file) so the stage masks that frame.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from affect.face.crops import CropReader, decode_jpeg

log = logging.getLogger(__name__)


@dataclass
class CropBatch:
    frames: np.ndarray  # int64 [b]: frames in this batch that decoded (rows of `inputs`)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (frame, error) of crops that did not decode
    inputs: list[Any] = field(default_factory=list)  # one preprocessed batch per distinct transform

    def pin_memory(self) -> "CropBatch":  # called by the DataLoader's pinning thread (CUDA)
        return CropBatch(self.frames, self.failed, [x.pin_memory() for x in self.inputs])


class CropBatches:
    """A map-style dataset: item k = batch k of `frames` (frames that have a crop), preprocessed."""

    def __init__(self, crop_dir: Path, frames: np.ndarray, batch_size: int, transforms: Sequence[Callable]):
        self.reader = CropReader(crop_dir)  # picklable: the memory map opens in each worker
        self.frames = np.asarray(frames, np.int64)
        self.batch_size = int(batch_size)
        self.transforms = list(transforms)

    def __len__(self) -> int:
        return -(-len(self.frames) // self.batch_size)

    def __getitem__(self, k: int) -> CropBatch:
        chunk = self.frames[k * self.batch_size:(k + 1) * self.batch_size]
        images, ok, failed = [], [], []
        for i in chunk:
            try:
                data = self.reader.read_jpeg(int(i))
                if data is None:
                    raise ValueError("no crop stored for this frame")
                images.append(decode_jpeg(data))
                ok.append(int(i))
            except Exception as e:  # a corrupt JPEG masks its frame, never the clip
                failed.append((int(i), f"{type(e).__name__}: {e}"))
        frames = np.array(ok, np.int64)
        if not ok:
            return CropBatch(frames, failed)
        crops = np.stack(images)
        return CropBatch(frames, failed, [t(crops) for t in self.transforms])


def _collate(batch: CropBatch) -> CropBatch:
    return batch


def _worker_init(_: int) -> None:
    import torch

    torch.set_num_threads(1)  # workers decode and resize; the main process keeps the cores for the forward


def crop_loader(crop_dir: Path, frames: np.ndarray, batch_size: int, transforms: Sequence[Callable],
                workers: int, pin_memory: bool = False):
    """A DataLoader yielding `CropBatch`es in order (workers > 0: decoding overlaps the forward pass)."""
    import torch

    dataset = CropBatches(crop_dir, frames, batch_size, transforms)
    return torch.utils.data.DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                                       collate_fn=_collate, pin_memory=pin_memory,
                                       worker_init_fn=_worker_init if workers else None,
                                       prefetch_factor=2 if workers else None)
