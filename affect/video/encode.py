"""Write RGB frames to a video file with PyAV (tests, benchmarks and demo data)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import av
import numpy as np


def write_video(path: str | Path, frames: Iterable[np.ndarray], *, fps: int = 25, codec: str = "libx264",
                options: dict[str, str] | None = None) -> int:
    """Encode uint8 `[H, W, 3]` RGB frames (all one size) into `path`; returns the frame count.

    libx264 (the default) needs even width and height; `options` go to the encoder
    (default for libx264: `preset=veryfast`, `crf=18`). `codec="png"` with an `.avi` path gives
    a lossless file whose frames are independent (handy to corrupt one frame in tests).
    """
    path = Path(path)
    if options is None:
        options = {"preset": "veryfast", "crf": "18"} if codec == "libx264" else {}
    pix_fmt = {"png": "rgb24", "mjpeg": "yuvj420p"}.get(codec, "yuv420p")
    n = 0
    with av.open(str(path), "w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream(codec, rate=fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = pix_fmt
                stream.options = dict(options)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in stream.encode(vf):
                container.mux(packet)
            n += 1
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)
    return n
