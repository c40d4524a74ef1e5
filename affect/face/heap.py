"""Keeping a long CPU detection run's memory flat.

MTCNN on the CPU allocates and frees hundreds of MB of tensors per batch. Two things made the
memory of `extract_faces` climb batch after batch (1 minute of the benchmark scene,
`benchmarks/faces_bench.py`: 320x240, batch 32, 2 cores):

- glibc keeps freed memory in its heap instead of giving it back: `release_heap()`
  (`malloc_trim`) hands it back. After every batch of 32 it kept the RSS between batches flat
  (~1.0 GB) but cost ~0.3 ms a frame (the trim, then page faults to touch the memory again),
  so `FaceDetector` trims every 8 batches and `extract_faces` once more per clip;
- oneDNN caches one compiled primitive per convolution shape (up to 1,024). R-net and O-net
  see a new batch shape (the number of candidate faces) almost every call, so the cache grows
  all along the video and its entries, scattered through the heap, fragment it: the peak
  climbed 1.26 -> 1.50 GB over the minute and did not settle. `limit_onednn_cache()` caps it
  at 64 entries (enough for every P-net pyramid level): peak 0.99-1.02 GB, same speed.

oneDNN reads `ONEDNN_PRIMITIVE_CACHE_CAPACITY` once, when the process creates its first
primitive; `limit_onednn_cache()` sets it (unless it is set already) and so only works if
called before the process's first convolution on the CPU, as `FaceDetector` does. Both are
no-ops where they cannot apply.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

ONEDNN_CACHE_CAPACITY = 64


def _libc() -> ctypes.CDLL | None:
    """glibc, if it is the C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def release_heap() -> None:
    """Hand freed heap memory back to the OS (glibc `malloc_trim(0)`; a no-op elsewhere)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def limit_onednn_cache(capacity: int = ONEDNN_CACHE_CAPACITY) -> None:
    """Cap oneDNN's primitive cache, unless the environment already sets it."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(capacity))
