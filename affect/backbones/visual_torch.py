"""The torch side shared by every visual backbone: image transform and batched forward.

`ImageTransform` is a small frozen dataclass (picklable, no model inside), so DataLoader
workers run it: uint8 RGB crops [B, H, W, 3] -> float32 [B, 3, S, S], resized (antialiased,
the whole aligned crop, no centre crop: stage 01 already framed the face) and normalised with
the statistics of the model's pretrained config. `TorchVisualBackbone.forward` runs the
model under `torch.inference_mode`, with float16 autocast on CUDA, and returns float32 [B, D]
on the CPU; a non-finite output row is left as it is, for the stage to mask and log.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from affect.backbones.base import VisualBackbone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageTransform:
    """uint8 RGB [B, H, W, 3] -> normalised float32 [B, 3, size, size]: ((x * scale)[channels] - mean) / std."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"  # bilinear | bicubic (torch.nn.functional.interpolate, antialiased)
    scale: float = 1 / 255  # 1/255: mean/std in [0, 1] units (timm, open_clip); 1: pixel units (Caffe)
    bgr: bool = False  # reorder channels to BGR (Caffe models)

    def __call__(self, crops: np.ndarray) -> torch.Tensor:
        if crops.ndim != 4 or crops.shape[-1] != 3:
            raise ValueError(f"crops must be uint8 [B, H, W, 3], got {crops.shape}")
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (self.size, self.size):
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode=self.interpolation,
                                                align_corners=False, antialias=True)
        if self.bgr:
            x = x.flip(1)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((x * self.scale - mean) / std).contiguous()

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def interpolation_name(name: str) -> str:
    """timm / open_clip interpolation names -> torch's (`bicubic`, `bilinear`; anything else -> bilinear)."""
    return name if name in ("bicubic", "bilinear") else "bilinear"


class TorchVisualBackbone(VisualBackbone):
    """A torch module that maps a normalised batch [B, 3, S, S] to features [B, D]."""

    def __init__(self, name: str, model: torch.nn.Module, transform: ImageTransform, *, dim: int, layer: str,
                 weights: str, info: dict[str, Any] | None = None, amp: bool = True):
        self.name = name
        self.model = model.eval().requires_grad_(False)
        self.transform = transform
        self.input_size = transform.size
        self.dim = int(dim)
        self.layer = layer
        self.weights = weights
        self.info = dict(info or {})
        self.amp = amp
        self.device = torch.device("cpu")

    def to(self, device: Any) -> "TorchVisualBackbone":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def preprocess(self, crops: np.ndarray) -> torch.Tensor:
        return self.transform(crops)

    def forward(self, batch: torch.Tensor) -> np.ndarray:
        batch = batch.to(self.device, non_blocking=True)
        amp = self.amp and self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.float16, enabled=amp):
            out = self.model(batch)
        out = out.reshape(len(out), -1).float().cpu().numpy()
        if out.shape[1] != self.dim:
            raise RuntimeError(f"{self.name}: output dim {out.shape[1]} != documented {self.dim}")
        return out

    def extra_info(self) -> dict[str, Any]:
        params = sum(p.numel() for p in self.model.parameters())
        return {"input_size": self.input_size, "transform": self.transform.describe(), "params": params, **self.info}
