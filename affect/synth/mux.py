"""Write an mp4 (H.264 yuv420p video, optional AAC audio) with PyAV, one frame at a time.

The exact frame rate goes into the container (e.g. Fraction(30000, 1001)), so a reader gets it
back as the stream's average rate. x264 runs single-threaded with fixed options so the same
frames give the same bytes; its macroblock-tree rate control is off because, with it on, x264
(the build PyAV ships) reads uninitialised memory for some frame sizes and content: the same
frames then gave different bytes from run to run (found with MALLOC_PERTURB_). Audio, held whole
in memory (it is small), is encoded in step with the video so the muxer interleaves the two.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

X264_OPTIONS = {"preset": "veryfast", "crf": "20", "threads": "1", "x264-params": "no-mbtree=1"}


class AVWriter:
    """`write(rgb)` per frame, then `close()`; audio is float32 [channels, samples] or None."""

    def __init__(self, path: Path, fps: Fraction, width: int, height: int,
                 audio: np.ndarray | None = None, sample_rate: int = 48000) -> None:
        self.container = av.open(str(path), "w", format="mp4")
        self.fps = Fraction(fps)
        self.video = self.container.add_stream("libx264", rate=self.fps, options=dict(X264_OPTIONS))
        self.video.width, self.video.height = width, height
        self.video.pix_fmt = "yuv420p"
        self.frames = 0
        self.audio = None
        self.samples = None
        self.sample_rate = sample_rate
        self.audio_pos = 0
        if audio is not None:
            self.samples = np.ascontiguousarray(audio, dtype=np.float32)
            self.layout = "mono" if self.samples.shape[0] == 1 else "stereo"
            self.audio = self.container.add_stream("aac", rate=sample_rate, layout=self.layout)
            self.audio.bit_rate = 96000 * self.samples.shape[0]

    def _mux(self, packets) -> None:
        for packet in packets:
            self.container.mux(packet)

    def _audio_until(self, stop: int) -> None:
        stop = min(stop, self.samples.shape[1])
        if stop <= self.audio_pos:
            return
        frame = av.AudioFrame.from_ndarray(self.samples[:, self.audio_pos:stop], format="fltp", layout=self.layout)
        frame.sample_rate = self.sample_rate
        frame.pts = self.audio_pos
        frame.time_base = Fraction(1, self.sample_rate)
        self._mux(self.audio.encode(frame))
        self.audio_pos = stop

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.frames
        frame.time_base = 1 / self.fps
        self._mux(self.video.encode(frame))
        self.frames += 1
        if self.audio is not None:
            self._audio_until(int(round(self.frames / self.fps * self.sample_rate)))

    def close(self) -> None:
        self._mux(self.video.encode(None))
        if self.audio is not None:
            self._audio_until(self.samples.shape[1])
            self._mux(self.audio.encode(None))
        self.container.close()

    def __enter__(self) -> "AVWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.container.close()
