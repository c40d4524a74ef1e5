"""A time series on disk: values [N, D], the time of each row, and which rows are valid.

The one format that feature stages (02 `visual`, 04 `speech`) write per clip and feature set,
`clips/<clip>/<name>.npz`, and that stage 05 `align` reads:

    values  float16 [N, D]   (float32 in memory after `load_series(..., dtype=np.float32)`)
    times   float64 [N]      seconds from the start of the video: the centre of each row's interval
    mask    bool    [N]      True = valid; False rows (no face, failed frame) hold zeros, never NaN
    rate    float64 scalar   rows per second at the producer's native rate (0 when irregular)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect.cache.atomic import atomic_path


@dataclass
class Series:
    values: np.ndarray
    times: np.ndarray
    mask: np.ndarray
    rate: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.values)
        if self.values.ndim != 2 or len(self.times) != n or len(self.mask) != n:
            raise ValueError(f"Series: values {self.values.shape}, times {self.times.shape}, mask {self.mask.shape} "
                             "must be [N, D], [N], [N]")

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])


def save_series(path: Path, s: Series) -> None:
    """Write `s` atomically (float16 values; invalid rows and non-finite values stored as 0)."""
    values = np.asarray(s.values).astype(np.float16)  # one half-size copy, no float32 temporaries
    mask = np.asarray(s.mask, bool) & np.isfinite(values).all(axis=1)  # also drops overflow to inf
    values[~mask] = 0
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, values=values, times=np.asarray(s.times, np.float64), mask=mask, rate=np.float64(s.rate))


def load_series(path: Path, dtype: type = np.float32) -> Series:
    with np.load(path) as z:
        return Series(values=z["values"].astype(dtype), times=z["times"], mask=z["mask"], rate=float(z["rate"]))
