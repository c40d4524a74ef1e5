"""`AudioConfig` and `SpeechConfig`: the typed configs of stages 03 `audio` and 04 `speech`."""
from __future__ import annotations

from dataclasses import dataclass, field

NOHASH = {"hash": False}


@dataclass
class AudioConfig:
    """Stage 03 `audio`: 16 kHz mono waveform per video, denoised, with a speech-activity mask."""

    sample_rate: int = 16000  # Hz of the stored waveform
    denoise: str = "stationary"  # none | stationary | nonstationary (noisereduce)
    vad: str = "silero"  # silero | energy


@dataclass
class SpeechConfig:
    """Stage 04 `speech`: speech-encoder features per clip, at the encoder's own frame rate."""

    backbones: list[str] = field(default_factory=lambda: ["wavlm-large", "whisper-large-v3"])  # registered names
    weights: str = "default"  # default (files / cache / download, DESIGN §5) | random (say so explicitly)
