"""Per-clip storage of aligned face crops: one file of concatenated JPEGs plus an index.

    crops.bin         JPEG images back to back, in frame order (frames without a crop add nothing)
    crops_index.npz   offset int64 [N], length int32 [N] (0 = no crop), size (crop side), quality

Why. Aff-Wild2 has ~2.8M frames: one JPEG file per frame means millions of inodes, slow
listing/copying and an open() per read. Two files per clip keep the cache small in file count,
are written as a stream (frames appended in order, the index written at close) and read
randomly through one memory map. JPEG rather than raw pixels: at size 224 and quality 95 a
face crop takes 14 kB (benchmark scene) to 18 kB (the astronaut photo's face) instead of
147 kB raw, 8-10x smaller (Aff-Wild2's 2.8M frames: ~45 GB instead of ~420 GB), and
Pillow decodes 4,100-4,900 crops/s (random batches of 64, one process on this 2-core
machine), far above what a backbone consumes on the same CPU. Figures from
`benchmarks/faces_bench.py`.

`CropReader` holds no open file when pickled, so it can be handed to DataLoader workers.
"""
from __future__ import annotations

import io
import mmap
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

BIN_NAME = "crops.bin"
INDEX_NAME = "crops_index.npz"


def encode_jpeg(crop: np.ndarray, quality: int = 95) -> bytes:
    """uint8 `[H, W, 3]` RGB -> JPEG bytes (Pillow default chroma subsampling, 4:2:0)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(crop)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes -> uint8 `[H, W, 3]` RGB."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


class CropWriter:
    """Append crops of one clip in increasing frame order; `close()` writes the index.

    Frames never written have no crop. Use as a context manager; the index is written only
    when the block exits without an exception (a partial store has no index and is not valid).
    """

    def __init__(self, directory: str | Path, frames: int, *, size: int, quality: int = 95) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.frames = int(frames)
        self.size = int(size)
        self.quality = int(quality)
        self.offsets = np.zeros(self.frames, np.int64)
        self.lengths = np.zeros(self.frames, np.int32)
        self._file = open(self.directory / BIN_NAME, "wb")
        self._pos = 0
        self._last = -1

    def write_jpeg(self, index: int, data: bytes) -> None:
        """Store already-encoded JPEG bytes as the crop of frame `index`."""
        if not self._last < index < self.frames:
            raise ValueError(f"frame {index}: crops must be written in increasing order within "
                             f"0..{self.frames - 1} (last written: {self._last})")
        self._file.write(data)
        self.offsets[index], self.lengths[index] = self._pos, len(data)
        self._pos += len(data)
        self._last = index

    def write(self, index: int, crop: np.ndarray) -> None:
        """Encode a uint8 `[size, size, 3]` crop and store it as frame `index`."""
        if crop.shape != (self.size, self.size, 3):
            raise ValueError(f"crop shape {crop.shape} != {(self.size, self.size, 3)}")
        self.write_jpeg(index, encode_jpeg(crop, self.quality))

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.close()
        np.savez(self.directory / INDEX_NAME, offset=self.offsets, length=self.lengths,
                 size=np.int32(self.size), quality=np.int32(self.quality))

    def __enter__(self) -> "CropWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._file.close()


class CropReader:
    """Random, batched reads of a crop store. Frames without a crop read as black images."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        index_path = self.directory / INDEX_NAME
        if not index_path.is_file():
            raise FileNotFoundError(f"no crop index {index_path} (missing or unfinished store)")
        with np.load(index_path) as z:
            self.offsets = z["offset"]
            self.lengths = z["length"]
            self.size = int(z["size"])
        self._map: mmap.mmap | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def has_crop(self) -> np.ndarray:
        """bool [N]: which frames have a crop."""
        return self.lengths > 0

    def _buffer(self) -> mmap.mmap | bytes:
        if self._map is None:
            path = self.directory / BIN_NAME
            if path.stat().st_size == 0:
                return b""
            with open(path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return self._map

    def read_jpeg(self, index: int) -> bytes | None:
        """The stored JPEG bytes of frame `index`, or None when it has no crop."""
        n = int(self.lengths[index])
        if n == 0:
            return None
        o = int(self.offsets[index])
        return bytes(self._buffer()[o:o + n])

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 `[n, size, size, 3]` crops of the given frames (zeros where there is none)."""
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.zeros((len(indices), self.size, self.size, 3), np.uint8)
        buf = None
        for k, i in enumerate(indices):
            n = int(self.lengths[i])
            if n:
                buf = buf if buf is not None else self._buffer()
                o = int(self.offsets[i])
                out[k] = decode_jpeg(buf[o:o + n])
        return out

    def __getitem__(self, index: int) -> np.ndarray:
        return self.read([index])[0]

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_map"] = None
        return state
