"""Speech activity: 0/1 per 32 ms window (512 samples at 16 kHz, 31.25 windows/s).

`silero`: silero-vad's model (its weights ship inside the package, so it runs offline), fed in
chunks of `chunk_s` seconds: speech probability per window, thresholded. `energy`: window RMS
in dB above max(loud level + `energy_threshold_db`, noise floor + 6 dB), where the loud level
is the 95th percentile of window levels and the floor the 10th. Both then drop speech runs
shorter than `min_speech_s` and fill gaps shorter than `min_silence_s`. `silero` falls back to
`energy` (with a warning) when silero-vad is not installed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

WINDOW = 512  # samples per activity window at 16 kHz (silero-vad's own window)
FLOOR_MARGIN_DB = 6.0


@dataclass
class VadParams:
    method: str = "silero"  # silero | energy
    threshold: float = 0.5
    energy_threshold_db: float = -20.0
    min_speech_s: float = 0.1
    min_silence_s: float = 0.15
    chunk_s: float = 60.0


def window_count(samples: int) -> int:
    return -(-samples // WINDOW)


def window_times(n: int, rate: int) -> np.ndarray:
    """Centre of each window in seconds."""
    return (np.arange(n) + 0.5) * WINDOW / rate


def speech_activity(wave: np.ndarray, rate: int, params: VadParams) -> tuple[np.ndarray, str]:
    """float32 [samples] at 16 kHz -> (0/1 float32 [windows], the method actually used)."""
    if rate != 16000:
        raise ValueError(f"speech activity needs 16 kHz audio, got {rate} Hz")
    n = window_count(len(wave))
    if n == 0 or float(np.max(np.abs(wave))) < 1e-5:  # digital silence: nobody speaks
        return np.zeros(n, np.float32), params.method
    method = params.method
    if method == "silero":
        try:
            prob = _silero(wave, rate, params.chunk_s)
            active = prob > params.threshold
        except ImportError:
            log.warning("silero-vad is not installed: energy-based speech activity instead")
            method = "energy"
    if method == "energy":
        active = _energy(wave, params.energy_threshold_db)
    elif method != "silero":
        raise ValueError(f"audio.vad must be 'silero' or 'energy', got {method!r}")
    per_s = rate / WINDOW
    active = _fill_gaps(active, int(round(params.min_silence_s * per_s)))
    active = _drop_short(active, int(round(params.min_speech_s * per_s)))
    return active.astype(np.float32), method


def _padded_windows(x: np.ndarray) -> np.ndarray:
    n = window_count(len(x))
    return np.pad(x, (0, n * WINDOW - len(x))).reshape(n, WINDOW)


def _energy(wave: np.ndarray, threshold_db: float) -> np.ndarray:
    frames = _padded_windows(wave.astype(np.float64))
    level = 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
    loud, floor = np.percentile(level, 95), np.percentile(level, 10)
    return level > max(loud + threshold_db, floor + FLOOR_MARGIN_DB)


_SILERO = None


def _silero_model():
    global _SILERO
    if _SILERO is None:
        import torch

        threads = torch.get_num_threads()
        from silero_vad import load_silero_vad  # its import sets torch's threads to 1: put them back

        torch.set_num_threads(threads)
        _SILERO = load_silero_vad()
    return _SILERO


def _silero(wave: np.ndarray, rate: int, chunk_s: float) -> np.ndarray:
    import torch

    model = _silero_model()
    chunk = max(int(chunk_s * rate) // WINDOW, 1) * WINDOW
    probs = []
    with torch.inference_mode():
        for start in range(0, len(wave), chunk):
            part = torch.from_numpy(np.ascontiguousarray(wave[start:start + chunk], np.float32))
            probs.append(model.audio_forward(part, rate).reshape(-1).numpy())  # resets its state per chunk
    return np.concatenate(probs)[:window_count(len(wave))]


def _runs(x: np.ndarray) -> list[tuple[int, int, bool]]:
    """(start, stop, value) runs of a bool array."""
    if len(x) == 0:
        return []
    edges = np.flatnonzero(np.diff(x.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(x)]])
    return [(int(a), int(b), bool(x[a])) for a, b in zip(starts, stops)]


def _fill_gaps(active: np.ndarray, max_gap: int) -> np.ndarray:
    out = active.copy()
    runs = _runs(active)
    for i, (a, b, value) in enumerate(runs):
        if not value and 0 < i < len(runs) - 1 and b - a < max_gap:
            out[a:b] = True
    return out


def _drop_short(active: np.ndarray, min_len: int) -> np.ndarray:
    out = active.copy()
    for a, b, value in _runs(active):
        if value and b - a < min_len:
            out[a:b] = False
    return out
