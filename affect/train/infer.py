"""Whole-clip prediction with a trained model: overlapping windows averaged back onto each step."""
from __future__ import annotations

import numpy as np

from affect.train.aligned import AlignedClip
from affect.train.data import collate, to_device, window, window_starts


def predict_clip(model, c: AlignedClip, features: list[str], norm: dict, length: int,
                 substeps: dict[str, int] | None = None, device: str = "cpu", batch: int = 32) -> np.ndarray:
    """[steps, 2] float32 in [-1, 1]: windows of ``length`` every ``length // 2`` steps, averaged."""
    import torch

    starts = window_starts(c.steps, length, max(length // 2, 1))
    total = np.zeros((c.steps, 2), np.float64)
    count = np.zeros(c.steps, np.float64)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(starts), batch):
            chunk = starts[i: i + batch]
            items = [window(c, features, norm, s, length, substeps) for s in chunk]
            out = model(to_device(collate(items), device)).float().cpu().numpy()
            for s, p in zip(chunk, out):
                n = min(length, c.steps - s)
                total[s: s + n] += p[:n]
                count[s: s + n] += 1
    return np.clip(total / np.maximum(count, 1)[:, None], -1.0, 1.0).astype(np.float32)
