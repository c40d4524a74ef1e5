"""Backgrounds (a smooth colour gradient plus low-frequency texture) and camera noise.

Nothing here has the structure of a face, so a face detector finds no face in a frame where the
face has left or is hidden.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def make_background(rng: np.random.Generator, width: int, height: int, *, texture_sigma: float = 14.0,
                    texture_amp: float = 22.0) -> np.ndarray:
    """uint8 [height, width, 3]: a gradient between two random colours along a random direction,
    plus Gaussian-filtered noise (kernel `texture_sigma` px) of about `texture_amp` grey levels."""
    c0 = rng.uniform(40, 200, 3)
    c1 = rng.uniform(40, 200, 3)
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    u = (np.cos(theta) * (xx - width / 2) + np.sin(theta) * (yy - height / 2)) / max(width, height) + 0.5
    u = np.clip(u, 0, 1)[..., None]
    img = c0 * (1 - u) + c1 * u
    noise = gaussian_filter(rng.standard_normal((height, width, 3)), (texture_sigma, texture_sigma, 0))
    noise /= noise.std() + 1e-9
    shared = gaussian_filter(rng.standard_normal((height, width)), texture_sigma * 2)
    shared /= shared.std() + 1e-9
    img = img + texture_amp * (0.3 * noise + 0.9 * shared[..., None])
    return np.clip(img, 0, 255).astype(np.uint8)


def make_occluder(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A panel that slides over the scene (a door, a hand-held board): darker, vertically streaked."""
    base = make_background(rng, width, height, texture_sigma=6.0, texture_amp=12.0).astype(np.float32)
    streaks = gaussian_filter(rng.standard_normal(width), 3.0)
    streaks /= streaks.std() + 1e-9
    img = 0.6 * base + 10.0 * streaks[None, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def camera_noise(rng: np.random.Generator, width: int, height: int, count: int = 8,
                 std: float = 2.0) -> np.ndarray:
    """`count` frames of sensor noise, float32 [count, height, width, 3], to add in turn."""
    return (std * rng.standard_normal((count, height, width, 3))).astype(np.float32)
