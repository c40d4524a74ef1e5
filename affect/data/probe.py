"""Probe a video for the manifest: frame rate, frame count, duration, audio presence.

The container header is read by `affect.video.decode.probe_video`; this adds what the
manifest needs on top: a frame rate is required, and a missing frame count is found by
demuxing (no decoding).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from affect.video.decode import VideoError
from affect.video.decode import probe_video as read_header


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


def count_packets(path: Path) -> int:
    """Number of non-empty video packets (one per frame for the usual codecs)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size)


def probe_video(path: Path) -> VideoInfo:
    """Read the container (the frame rate comes from the stream, never from the file name).

    The frame count is the stream's when the container records it, otherwise the number of
    video packets found by demuxing.
    """
    try:
        header = read_header(path)
        if header.fps <= 0:
            raise ProbeError(f"{path}: the video stream has no frame rate")
        frames = header.declared_frames or count_packets(path)
    except VideoError as e:
        raise ProbeError(str(e)) from None
    except (av.FFmpegError, OSError) as e:
        raise ProbeError(f"{path}: cannot open video: {e}") from None
    if frames <= 0:
        raise ProbeError(f"{path}: the video has no frames")
    return VideoInfo(fps=header.fps, frames=frames, duration=frames / header.fps, width=header.width,
                     height=header.height, has_audio=header.has_audio, audio_rate=header.audio_rate)
