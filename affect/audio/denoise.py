"""Spectral-gating noise reduction (noisereduce), in chunks so memory does not grow with duration.

`stationary` estimates one noise floor per chunk (per-frequency mean + `n_std` std of the
chunk's dB spectrum) and gates below it: right for room hum, fans, hiss. `nonstationary` tracks the
floor over time (a smoothed minimum over `time_constant_s`): right for traffic or babble.
`prop_decrease` is the strength: the fraction of the gated energy removed (1 = all).

Defaults (measured on the synthetic voice in room noise at 10 dB, tests/audio/test_denoise.py):
noisereduce's own defaults (1.5 std, mask smoothed over 500 Hz) removed 8 dB of the speech
itself at strength 0.8: the smoothing spreads the gate over the gaps between harmonics. With no
frequency smoothing and a 1.0 std threshold, strength 0.8 raises the SNR by about 8 dB and
keeps the speech stretches' energy within 1 dB (signal-to-distortion 10 -> 13.7 dB).

Chunks of `chunk_s` seconds overlap by one second and are cross-faded, so chunk borders leave
no click; each chunk gets its own noise estimate (a slow change of the room is followed).
"""
from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

MODES = ("none", "stationary", "nonstationary")
OVERLAP_S = 1.0


def denoise(wave: np.ndarray, rate: int, mode: str = "stationary", prop_decrease: float = 0.8,
            chunk_s: float = 60.0, n_std: float = 1.0, freq_smooth_hz: float = 0.0) -> np.ndarray:
    """float32 [samples] -> denoised float32 [samples] (a copy; `mode="none"` returns the input)."""
    if mode not in MODES:
        raise ValueError(f"audio.denoise must be one of {', '.join(MODES)}, got {mode!r}")
    if not 0.0 <= prop_decrease <= 1.0:
        raise ValueError(f"audio.prop_decrease must be in [0, 1], got {prop_decrease}")
    if mode == "none" or len(wave) == 0:
        return wave
    chunk = max(int(chunk_s * rate), 4 * rate)
    overlap = int(OVERLAP_S * rate)
    if len(wave) <= chunk + overlap:
        return _gate(wave, rate, mode, prop_decrease, n_std, freq_smooth_hz)
    out = np.zeros(len(wave), np.float32)
    fade = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
    start = 0
    while start < len(wave):
        stop = min(start + chunk + overlap, len(wave))
        if len(wave) - stop < rate:  # a tail shorter than a second joins this chunk
            stop = len(wave)
        part = _gate(wave[start:stop], rate, mode, prop_decrease, n_std, freq_smooth_hz)
        if start > 0:  # cross-fade with the previous chunk's last `overlap` samples
            n = min(overlap, len(part))
            part[:n] *= fade[:n]
            out[start:start + n] *= 1.0 - fade[:n]
        out[start:stop] += part
        if stop == len(wave):
            break
        start = stop - overlap
    return out


def _gate(x: np.ndarray, rate: int, mode: str, prop_decrease: float, n_std: float, freq_smooth_hz: float
          ) -> np.ndarray:
    import noisereduce

    if not np.any(x):
        return x.copy()
    y = noisereduce.reduce_noise(y=x, sr=rate, stationary=mode == "stationary", prop_decrease=prop_decrease,
                                 n_std_thresh_stationary=n_std, freq_mask_smooth_hz=freq_smooth_hz or None,
                                 n_jobs=1, use_tqdm=False)
    return np.asarray(y, np.float32)
