"""Probe a video container with PyAV: frame rate, frame count, duration, audio presence."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av


class ProbeError(RuntimeError):
    """The video cannot be opened or has no usable video stream."""


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frames: int
    duration: float
    width: int
    height: int
    has_audio: bool
    audio_rate: int  # 0 when there is no audio stream


def probe_video(path: Path) -> VideoInfo:
    """Read the container (the frame rate comes from the stream, never from the file name).

    The frame count is the stream's when the container records it, otherwise the number of
    video packets found by demuxing (no decoding).
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ProbeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            if not rate:
                raise ProbeError(f"{path}: the video stream has no frame rate")
            fps = float(rate)
            frames = int(stream.frames or 0)
            if frames <= 0:
                frames = sum(1 for p in container.demux(stream) if p.size)
            audio = container.streams.audio
            width, height = stream.codec_context.width, stream.codec_context.height
            audio_rate = int(audio[0].rate or 0) if audio else 0
    except ProbeError:
        raise
    except (av.FFmpegError, OSError) as e:
        raise ProbeError(f"{path}: cannot open video: {e}") from None
    if frames <= 0:
        raise ProbeError(f"{path}: the video has no frames")
    return VideoInfo(fps=fps, frames=frames, duration=frames / fps, width=width, height=height,
                     has_audio=bool(audio), audio_rate=audio_rate)
