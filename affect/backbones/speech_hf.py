"""What the transformers speech encoders (WavLM, Whisper) share: frame grid, weights folder, device.

Frame grid. Both encoders give 50 frames/s (one per 320 samples at 16 kHz). A recording of n
samples gets N = n // 320 frames; frame k covers samples [320 k, 320 (k + 1)) and sits at
(k + 0.5) / 50 s. Each encoder places its input so that its frame k is centred there.

Weights. A model is a `from_pretrained` folder (config.json + weights): `weights` is
a folder (or a file in it), else `checkpoints/<name>/`, else the Hugging Face cache (offline:
answered at once), else `WeightsNotFound` naming the folder and `affect weights fetch <name>`.
`weights=random` builds the architecture from its config with seeded random weights.
"""
from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path
from typing import Any, Callable

import numpy as np

from affect.backbones.base import SpeechBackbone
from affect.backbones.weights import register_fetcher, resolve_weights

log = logging.getLogger(__name__)

HOP = 320  # samples per encoder frame at 16 kHz
RATE = 50.0  # frames per second


def frame_count(samples: int) -> int:
    return samples // HOP


def frame_times(n: int) -> np.ndarray:
    return (np.arange(n, dtype=np.float64) + 0.5) / RATE


def model_folder(name: str, weights: str, hf_repo: str | None) -> Path | None:
    """The `from_pretrained` folder for `weights`, or None for random weights."""
    fallback = None
    if hf_repo:
        def fallback() -> Path | None:
            from huggingface_hub import hf_hub_download

            return Path(hf_hub_download(hf_repo, "config.json"))
    hint = (f"The folder holds the Hugging Face repository {hf_repo}'s config.json, preprocessor_config.json and "
            "model.safetensors (a `save_pretrained` folder)." if hf_repo else "")
    found = resolve_weights(name, weights, ["config.json"], fetch_hint=hint, fallback=fallback)
    return None if found is None else (found if found.is_dir() else found.parent)


def build_model(folder: Path | None, seed: int, random_model: Callable[[], Any],
                pretrained: Callable[[Path], Any]) -> tuple[Any, str]:
    """(model in eval mode, what was loaded): `pretrained(folder)`, or with no folder (`weights=random`)
    `random_model()` initialised from `seed` without touching the global random state."""
    import torch

    if folder is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model, weights = random_model(), f"random (seed {seed})"
    else:
        model, weights = pretrained(folder), str(folder)
    return model.eval(), weights


def register_hf_fetcher(name: str, hf_repo: str, patterns: list[str]) -> None:
    """`affect weights fetch <name>`: the repository's config, preprocessor config and weights."""

    @register_fetcher(name)
    def fetch(folder: Path, weights: str) -> list[Path]:
        from huggingface_hub import snapshot_download

        snapshot_download(hf_repo, local_dir=folder, allow_patterns=patterns)
        return sorted(p for p in folder.iterdir() if p.is_file())


class TorchSpeechBackbone(SpeechBackbone):
    """A torch speech encoder at 50 frames/s: device handling and the common `encode` checks."""

    rate = RATE
    model: Any
    batch_size: int = 4
    amp: bool = True  # float16 autocast on CUDA (the CPU always runs float32)

    def to(self, device: Any) -> "TorchSpeechBackbone":
        import torch

        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    def encode(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wave = np.asarray(wave, np.float32).reshape(-1) if np.ndim(wave) != 1 else wave
        n = frame_count(len(wave))
        if n == 0:
            return np.zeros((0, self.dim), np.float32), np.zeros(0)
        if not np.isfinite(wave[:n * HOP]).all():
            raise ValueError(f"{self.name}: the waveform ({len(wave)} samples) has non-finite samples")
        import torch

        amp = self.amp and self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast(self.device.type, dtype=torch.float16, enabled=amp):
            values = self._encode(wave, n)
        return values, frame_times(n)

    @abstractmethod
    def _encode(self, wave: np.ndarray, n: int) -> np.ndarray:
        """float32 [samples] (maybe memory-mapped) -> float32 [n, dim], under torch.inference_mode."""

    def extra_info(self) -> dict[str, Any]:
        return {"rate": self.rate, "hop_samples": HOP, "time": "(k + 0.5) / 50 s"}
