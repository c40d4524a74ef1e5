"""Shared test helpers: tiny media generated at test time (nothing is committed)."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def write_video(path: Path, frames: int, fps: int | Fraction = 25, size: tuple[int, int] = (64, 48),
                audio_seconds: float | None = None) -> Path:
    """A small H.264 mp4 of a moving gradient, optionally with a sine-tone AAC track."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        astream = out.add_stream("aac", rate=16000) if audio_seconds else None
        yy, xx = np.mgrid[0:h, 0:w]
        for i in range(frames):
            img = np.stack([(xx * 4 + i * 3) % 256, (yy * 5) % 256, np.full_like(xx, 128)], -1).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if astream is not None:
            t = np.arange(int(16000 * audio_seconds)) / 16000
            tone = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
            for start in range(0, len(tone), 1024):
                frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp", layout="mono")
                frame.sample_rate = 16000
                for packet in astream.encode(frame):
                    out.mux(packet)
            for packet in astream.encode():
                out.mux(packet)
    return path


def write_labels(path: Path, values: np.ndarray | list, header: str = "valence,arousal") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"{v},{a}" for v, a in np.asarray(values, dtype=float)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def make_video():
    return write_video


@pytest.fixture
def make_labels():
    return write_labels


@pytest.fixture(scope="session")
def synth_corpus(tmp_path_factory):
    """A small generated Aff-Wild2-style corpus (every awkward case), made once per session."""
    from affect.synth.corpus import generate_corpus

    root = tmp_path_factory.mktemp("synth") / "corpus"
    record = generate_corpus(root, clips=6, seconds=3.0, seed=7, cropped_aligned=True)
    return root, record
