"""Batched MTCNN face detection (facenet-pytorch), returning plain float32 arrays per frame."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from facenet_pytorch import MTCNN

from affect.face.config import FacesConfig
from affect.face.heap import limit_onednn_cache, release_heap

log = logging.getLogger(__name__)

# On the CPU, MTCNN runs over a batch in chunks of this many frames: its throughput there does
# not depend on the batch size (70 fps at 8, 16 or 32 frames, 320x240, 2 cores) while its
# working memory grows with it. On a GPU the whole batch goes at once.
CPU_CHUNK = 8
# ... and every this many batches the freed heap is handed back to the OS (see affect.face.heap)
TRIM_EVERY = 8


@dataclass
class Detections:
    """The faces found in one frame, in the pixels of the frame given to `detect`."""

    boxes: np.ndarray  # [n, 4] float32 x1, y1, x2, y2
    scores: np.ndarray  # [n] float32 O-net probability
    landmarks: np.ndarray  # [n, 5, 2] float32 (x, y): left eye, right eye, nose, mouth left, mouth right

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty() -> "Detections":
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def select(self, keep: np.ndarray) -> "Detections":
        return Detections(self.boxes[keep], self.scores[keep], self.landmarks[keep])

    def scaled(self, sx: float, sy: float) -> "Detections":
        """Coordinates divided by (sx, sy): decoded-frame pixels -> original-frame pixels."""
        div = np.array([sx, sy], np.float32)
        return Detections((self.boxes.reshape(-1, 2, 2) / div).reshape(-1, 4), self.scores.copy(),
                          self.landmarks / div)


class FaceDetector:
    """MTCNN over batches of same-size RGB uint8 frames `[B, H, W, 3]`, on the given device.

    Left/right eye are as they appear in the image (left = smaller x), as MTCNN reports them.
    On the CPU the batch is run in chunks of `CPU_CHUNK` frames, oneDNN's primitive cache is
    capped and the freed heap is trimmed every `TRIM_EVERY` batches, which keeps memory flat
    along long videos (see `affect.face.heap`).
    """

    def __init__(self, cfg: FacesConfig, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        if self.device.type == "cpu":
            limit_onednn_cache()
        self.mtcnn = MTCNN(min_face_size=cfg.min_face_size, thresholds=list(cfg.thresholds),
                           factor=cfg.factor, keep_all=True, select_largest=False, post_process=False,
                           device=self.device)
        self.mtcnn.eval()
        self._batches = 0
        log.debug("MTCNN on %s: min_face_size=%d thresholds=%s", self.device, cfg.min_face_size,
                  list(cfg.thresholds))

    def detect(self, batch: np.ndarray) -> list[Detections]:
        """One `Detections` per frame of `batch` (uint8 `[B, H, W, 3]` or a single `[H, W, 3]`)."""
        if batch.ndim == 3:
            batch = batch[None]
        if batch.ndim != 4 or batch.shape[-1] != 3:
            raise ValueError(f"expected frames [B, H, W, 3], got shape {batch.shape}")
        if len(batch) == 0:
            return []
        on_cpu = self.device.type == "cpu"
        step = CPU_CHUNK if on_cpu else len(batch)
        out: list[Detections] = []
        for s in range(0, len(batch), step):
            imgs = torch.from_numpy(np.require(batch[s:s + step], requirements=("C", "W"))).to(self.device)  # copies read-only input
            boxes, probs, points = self.mtcnn.detect(imgs, landmarks=True)
            out += [_as_detections(b, p, l) for b, p, l in zip(boxes, probs, points)]
            del imgs, boxes, probs, points
        self._batches += 1
        if on_cpu and self._batches % TRIM_EVERY == 0:
            release_heap()
        return out


def _as_detections(boxes, probs, points) -> Detections:
    """MTCNN's per-frame entry (object arrays, or None when no face) as float32 arrays."""
    if boxes is None or len(boxes) == 0:
        return Detections.empty()
    return Detections(np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                      np.asarray(probs, dtype=np.float32).reshape(-1),
                      np.asarray(points, dtype=np.float32).reshape(-1, 5, 2))
