"""Smooth random time series: the latent valence/arousal of a clip, cue noise, annotator noise.

Every series is defined in seconds (time constants, not frames), so a clip at 15 fps and one at
30 fps have the same character. Noise is normalised by its theoretical standard deviation, not by
the sample's, so a short clip varies as little as a short stretch of a long one would.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d


def smooth_noise(rng: np.random.Generator, n: int, rate: float, tau_s: float, std: float = 1.0) -> np.ndarray:
    """`n` samples at `rate` Hz of Gaussian-filtered white noise (kernel sigma `tau_s` s), std `std`."""
    sigma = max(tau_s * rate, 1e-3)
    pad = int(np.ceil(4 * sigma)) + 1
    white = rng.standard_normal(n + 2 * pad)
    smooth = gaussian_filter1d(white, sigma, mode="nearest")[pad:pad + n]
    # std of white noise filtered by a unit-area Gaussian of std sigma is (2 sqrt(pi) sigma)^-1/2
    theoretical = (2.0 * np.sqrt(np.pi) * sigma) ** -0.5 if sigma >= 0.5 else 1.0
    return smooth * (std / theoretical)


def latent_va(rng: np.random.Generator, n: int, fps: float) -> np.ndarray:
    """[n, 2] latent (valence, arousal) in (-1, 1): a per-clip offset, a slow and a faster part.

    Sum of a clip offset (std 0.25), a slow component (kernel 2.5 s, std 0.35) and a faster one
    (0.7 s, std 0.15), softly bounded by tanh: std about 0.45, rarely near +-1.
    """
    out = np.empty((n, 2))
    for d in range(2):
        x = (0.25 * rng.standard_normal()
             + smooth_noise(rng, n, fps, 2.5, 0.35)
             + smooth_noise(rng, n, fps, 0.7, 0.15))
        out[:, d] = np.tanh(1.1 * x)
    return out


def annotate(rng: np.random.Generator, latent: np.ndarray, fps: float, std: float = 0.1) -> np.ndarray:
    """What an annotator writes: latent + smoothed Gaussian noise (kernel 0.4 s) + a small bias, clipped."""
    noise = np.stack([smooth_noise(rng, len(latent), fps, 0.4, std) + 0.03 * rng.standard_normal()
                      for _ in range(latent.shape[1])], axis=1)
    return np.clip(latent + noise, -1.0, 1.0)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def pulse(t: np.ndarray, start: float, stop: float, ramp: float) -> np.ndarray:
    """1 on [start, stop], 0 far outside, smooth ramps of `ramp` s just outside the interval."""
    return smoothstep((t - (start - ramp)) / ramp) * smoothstep(((stop + ramp) - t) / ramp)
