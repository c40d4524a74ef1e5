"""What every backbone offers the feature stages, whatever library it wraps.

Visual backbones (stage 02) turn aligned face crops into one vector per crop; speech backbones
(stage 04) turn a 16 kHz waveform into a series of vectors at their own frame rate.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Backbone(ABC):
    """Common facts: name, output dimension, which layer the features come from, what weights were loaded."""

    name: str
    modality: str  # "visual" | "speech"
    dim: int  # output dimension D
    layer: str  # which layer the features are (e.g. "pooled pre-classifier", "CLIP image embedding")
    weights: str  # what was loaded: "random", a file path, or a pretrained tag

    def to(self, device: Any) -> "Backbone":
        """Move to a torch device (no-op for CPU-only extractors)."""
        return self

    def describe(self) -> dict[str, Any]:
        """A record for the output's log and `backbones.json`."""
        return {"name": self.name, "modality": self.modality, "dim": self.dim, "layer": self.layer,
                "weights": self.weights, **self.extra_info()}

    def extra_info(self) -> dict[str, Any]:
        return {}


class VisualBackbone(Backbone):
    """Aligned face crops -> [B, D] float32 embeddings."""

    modality = "visual"
    input_size: int  # square side the crops are resized to

    @abstractmethod
    def preprocess(self, crops: np.ndarray) -> Any:
        """uint8 RGB [B, H, W, 3] -> the model's input batch (CPU, picklable: runs in loader workers)."""

    @abstractmethod
    def forward(self, batch: Any) -> np.ndarray:
        """The preprocessed batch -> float32 [B, D] on the CPU; a row of NaN marks a crop that failed."""


class SpeechBackbone(Backbone):
    """A 16 kHz mono float32 waveform -> frames [N, D] at `rate` frames per second."""

    modality = "speech"
    rate: float  # frames per second of the output
    sample_rate: int = 16000

    @abstractmethod
    def encode(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 [samples] -> (float32 [N, D], float64 [N] frame-centre times in seconds)."""
