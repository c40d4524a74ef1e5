"""Speech enhancement behind one interface: `denoise(wave, rate, mode, ...)`.

Backends (`audio.denoise`):

* `none`: the waveform as decoded.
* `stationary` / `nonstationary`: spectral gating (noisereduce). `stationary` estimates one
  noise floor per chunk (per-frequency mean + `n_std` std of the chunk's dB spectrum) and gates
  below it: right for room hum, fans, hiss. `nonstationary` tracks the floor over time (a
  smoothed minimum). `prop_decrease` is the strength: the fraction of the gated energy removed.
  With no frequency smoothing and a 1.0 std threshold, strength 0.8 raises the SNR of a
  synthetic voice in room noise by about 8 dB (noisereduce's own 1.5 std and 500 Hz smoothing
  removed 8 dB of the speech itself).
* `rnnoise`, `deepfilternet`: neural enhancement whose models ship in their wheels
  (`affect.audio.neural`), run at 48 kHz.

Which one is the default, and why, is measured by `benchmarks/audio_bench.py` (docs/audio.md), on
espeak-ng speech in stationary, music and babble noise at 0, 5 and 15 dB: DeepFilterNet with its
attenuation limited to 6 dB (`atten_lim_db`) gains +2.7 dB on average and loses at most 0.6 dB
on a clip; unlimited it gains +4.1 dB but loses up to 4.7 dB on babble at 15 dB, stationary
gating +1.8 dB (-1.4 dB at worst), RNNoise removes the speech with the babble (-26 dB).

Every backend runs on chunks of `chunk_s` seconds that overlap by one second and are
cross-faded, so memory does not grow with duration and chunk borders leave no click; each chunk
is resampled once to the backend's own rate and back (polyphase, `scipy.signal.resample_poly`).
The neural backends are recurrent and start each chunk knowing nothing of its noise: DeepFilterNet
3 scored -10 dB in its first second and 8 dB in its second on a noisy tone that it brings to
17 dB after that. So each chunk's first `WARMUP_S` seconds are fed twice and the first pass is
dropped (2 s more work per chunk, 3% at the default 60 s chunks).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from math import gcd
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

MODES = ("none", "stationary", "nonstationary", "rnnoise", "deepfilternet")
OVERLAP_S = 1.0
WARMUP_S = 2.0  # rnnoise / deepfilternet: seconds of warm-up before each chunk (measured: DFN3 needs ~2 s)


@dataclass
class DenoiseParams:
    prop_decrease: float = 0.8  # spectral gating strength (0-1)
    n_std: float = 1.0  # stationary gate threshold (std of the noise spectrum, dB)
    freq_smooth_hz: float = 0.0  # spectral gating: smoothing over frequency (0 = none)
    atten_lim_db: float = 100.0  # deepfilternet: the most a bin is attenuated (100 = no limit)


def backend(mode: str, params: DenoiseParams) -> tuple[int, Callable[[np.ndarray], np.ndarray] | None]:
    """(the backend's own sample rate (0 = any), float32 [samples] -> float32 [samples] at that rate)."""
    if mode not in MODES:
        raise ValueError(f"audio.denoise must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "none":
        return 0, None
    if mode in ("stationary", "nonstationary"):
        if not 0.0 <= params.prop_decrease <= 1.0:
            raise ValueError(f"audio.prop_decrease must be in [0, 1], got {params.prop_decrease}")
        return 0, lambda x, rate=0: _gate(x, rate, mode, params)  # rate filled in by `denoise`
    from affect.audio import neural

    if mode == "rnnoise":
        neural._rnnoise_lib()  # fail here, once, when the package is missing
        return neural.RATE, neural.enhance_rnnoise
    neural._dfn_lib()
    return neural.RATE, lambda x: neural.enhance_deepfilternet(x, params.atten_lim_db)


def check_backend(mode: str) -> None:
    """Raise (ValueError, or ImportError naming the package to install) unless `mode` can run here."""
    backend(mode, DenoiseParams())


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling, float32 out; the identity when the rates are equal."""
    if rate_in == rate_out:
        return np.asarray(x, np.float32)
    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(np.asarray(x, np.float32), rate_out // g, rate_in // g).astype(np.float32)


def denoise(wave: np.ndarray, rate: int, mode: str = "stationary", prop_decrease: float = 0.8,
            chunk_s: float = 60.0, n_std: float = 1.0, freq_smooth_hz: float = 0.0,
            atten_lim_db: float = 100.0) -> np.ndarray:
    """float32 [samples] at `rate` -> enhanced float32 [samples] (`mode="none"` returns the input)."""
    params = DenoiseParams(prop_decrease, n_std, freq_smooth_hz, atten_lim_db)
    native, fn = backend(mode, params)
    if fn is None or len(wave) == 0:
        return wave

    def run(part: np.ndarray) -> np.ndarray:
        if not np.any(part):
            return np.array(part, np.float32)
        if native == 0:
            return fn(np.asarray(part, np.float32), rate)
        # a recurrent model adapts to the noise over its first seconds: it hears the chunk's first
        # WARMUP_S twice, and the first hearing is dropped
        warm = min(len(part), int(WARMUP_S * rate))
        y = resample(fn(resample(np.concatenate([part[:warm], part]), rate, native)), native, rate)[warm:]
        return np.pad(y, (0, max(0, len(part) - len(y))))[:len(part)]

    chunk = max(int(chunk_s * rate), 4 * rate)
    overlap = int(OVERLAP_S * rate)
    if len(wave) <= chunk + overlap:
        return run(wave)
    out = np.zeros(len(wave), np.float32)
    fade = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
    start = 0
    while start < len(wave):
        stop = min(start + chunk + overlap, len(wave))
        if len(wave) - stop < rate:  # a tail shorter than a second joins this chunk
            stop = len(wave)
        part = run(wave[start:stop])
        if start > 0:  # cross-fade with the previous chunk's last `overlap` samples
            n = min(overlap, len(part))
            part[:n] *= fade[:n]
            out[start:start + n] *= 1.0 - fade[:n]
        out[start:stop] += part
        if stop == len(wave):
            break
        start = stop - overlap
    return out


GATE_FFT = 1024  # noisereduce's STFT window (samples): a shorter wave has no frame to gate


def _gate(x: np.ndarray, rate: int, mode: str, params: DenoiseParams) -> np.ndarray:
    import noisereduce

    if len(x) <= GATE_FFT:  # a clip of a frame or two: nothing to estimate the noise from, kept as it is
        return np.asarray(x, np.float32)
    y = noisereduce.reduce_noise(y=x, sr=rate, stationary=mode == "stationary", prop_decrease=params.prop_decrease,
                                 n_std_thresh_stationary=params.n_std, freq_mask_smooth_hz=params.freq_smooth_hz or None,
                                 n_jobs=1, use_tqdm=False)
    return np.asarray(y, np.float32)
