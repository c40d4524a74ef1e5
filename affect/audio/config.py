"""`AudioConfig` and `SpeechConfig`: the typed configs of stages 03 `audio` and 04 `speech`."""
from __future__ import annotations

from dataclasses import dataclass, field

NOHASH = {"hash": False}


@dataclass
class AudioConfig:
    """Stage 03 `audio`: 16 kHz mono waveform per video, enhanced, with a speech-activity mask."""

    sample_rate: int = 16000  # Hz of the stored waveform
    denoise: str = "deepfilternet"  # none | stationary | nonstationary (noisereduce) | rnnoise | deepfilternet (docs/audio.md)
    keep_raw: bool = False  # also keep the waveform before enhancement; stage 04 then encodes both (<backbone>.raw)
    atten_lim_db: float = 6.0  # deepfilternet: the most any time-frequency bin is attenuated, dB (100 = no limit; 6 keeps babble from costing speech)
    prop_decrease: float = 0.8  # denoising strength: fraction of the estimated noise removed (0-1)
    denoise_n_std: float = 1.0  # stationary gate: noise floor = mean + this many std of the noise spectrum (dB)
    denoise_freq_smooth_hz: float = 0.0  # smoothing of the gate over frequency (0 = none; noisereduce's own: 500)
    vad: str = "silero"  # silero (falls back to energy when silero-vad is not installed) | energy
    vad_threshold: float = 0.5  # speech probability (silero) above which a window is speech
    energy_threshold_db: float = -20.0  # energy VAD: window RMS above (loudest windows' level + this) is speech
    min_speech_s: float = 0.1  # shorter speech runs are dropped
    min_silence_s: float = 0.15  # shorter gaps between speech runs are filled
    max_length_diff_s: float = 2.0  # audio shorter/longer than the video by more than this is logged as a problem
    chunk_s: float = 60.0  # seconds per denoising / VAD chunk (bounds memory; each chunk has its own noise estimate)


@dataclass
class SpeechConfig:
    """Stage 04 `speech`: speech-encoder features per clip, at the encoder's own frame rate."""

    backbones: list[str] = field(default_factory=lambda: ["wavlm-large", "whisper-large-v3"])  # registered names
    weights: str = "default"  # default (files / cache / download: affect weights list) | random (say so explicitly)
    layer: str = "default"  # WavLM layer choice: default (the backbone's own) | <N> | mean<k> | sum<k> (last k layers)
    chunk_s: float = 30.0  # WavLM: seconds per forward chunk, plus 1 s of context each side (bounds memory)
    amp: bool = field(default=True, metadata=NOHASH)  # float16 autocast on CUDA (WavLM, Whisper)
    batch_size: int = field(default=4, metadata=NOHASH)  # chunks / Whisper windows per forward pass on a GPU (CPU: 1)
    shard: str = field(default="", metadata=NOHASH)  # k/n: this process takes share k of n; empty = torchrun RANK/WORLD_SIZE
