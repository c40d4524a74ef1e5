"""Probe a video for the manifest: frame rate, frame counts, stream start times, frame clock.

The container header is read by `affect.video.decode.probe_video` (which also decodes the first
frame: its presentation time is clip time 0). On top of it one demuxing pass (no decoding) over
the video and audio packets gives:

- the frame count a decoder yields (`frames`): the video packets that carry a picture (non-empty,
  not marked discard), beside the header's count (`header_frames`, 0 when the header has none);
- where the audio stream starts (`audio_start`, its first packet's presentation time);
- the frame clock: frame i's presentation time minus the first frame's, against `i / fps`.
  Where some frame is more than half a frame period off, the video has a variable frame rate
  and `frame_times` holds every frame's time (seconds from the first frame, presentation order).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from affect.video.decode import VideoError, pick_audio_stream, pick_video_stream
from affect.video.decode import probe_video as read_header

VFR_TOLERANCE = 0.5  # frame periods: a frame further than this from i / fps makes the clock variable


class ProbeError(RuntimeError):
    """The video cannot be opened or has no usable video stream."""


@dataclass(frozen=True)
class VideoInfo:
    fps: float
    frames: int  # frames a decoder yields (demuxed picture packets)
    duration: float
    width: int
    height: int
    has_audio: bool
    audio_rate: int  # 0 when there is no audio stream
    header_frames: int = 0  # the container header's count (0 when it has none)
    video_start: float = 0.0  # first frame's presentation time on the container clock (s): clip time 0
    audio_start: float | None = None  # the audio stream's first packet time on the container clock (None: no audio)
    clock_offset: float = 0.0  # largest |frame time - i / fps| (s), frame times from the first frame
    frame_times: np.ndarray | None = None  # [frames] float64 seconds from the first frame; only when variable

    @property
    def variable_rate(self) -> bool:
        return self.frame_times is not None


@dataclass(frozen=True)
class Packets:
    """What one demuxing pass finds: picture packet times (sorted, s) and the first audio packet time."""

    video_times: np.ndarray
    untimed: int  # picture packets without a presentation time
    audio_start: float | None


def _first_time(container: av.container.InputContainer, stream: av.stream.Stream) -> float | None:
    """Presentation time (s) of the first timed packet of `stream` that is not discarded."""
    for packet in container.demux(stream):
        if packet.size and not packet.is_discard and packet.pts is not None and packet.time_base:
            return float(packet.pts * packet.time_base)
    return None


def demux_packets(path: Path) -> Packets:
    """Demux (no decoding) the video stream a player shows, and the start of the audio stream stage 03
    decodes, of `path`."""
    with av.open(str(path)) as container:
        audio = container.streams.audio
        audio_start = _first_time(container, pick_audio_stream(audio)) if audio else None
    with av.open(str(path)) as container:
        video = pick_video_stream(container.streams.video)
        pts = [p.pts for p in container.demux(video) if p.size and not p.is_discard]  # other streams skipped in FFmpeg
        base = float(video.time_base) if video.time_base else 0.0
    timed = [t for t in pts if t is not None] if base else []
    times = np.sort(np.asarray(timed, np.float64) * base)
    return Packets(times, len(pts) - len(timed), audio_start)


def count_packets(path: Path) -> int:
    """Number of video packets that carry a picture (one per frame for the usual codecs)."""
    found = demux_packets(path)
    return len(found.video_times) + found.untimed


def frame_clock(times: np.ndarray, fps: float) -> tuple[float, np.ndarray | None]:
    """(largest offset of a frame from i / fps in seconds, the frame times when the rate is variable).

    `times` are presentation times in seconds, sorted; they are measured from the first one.
    """
    if len(times) < 2:
        return 0.0, None
    rel = times - times[0]
    offset = float(np.max(np.abs(rel - np.arange(len(rel)) / fps)))
    return offset, (rel if offset > VFR_TOLERANCE / fps else None)


def probe_video(path: Path) -> VideoInfo:
    """Read the container (the frame rate comes from the stream, never from the file name)."""
    try:
        header = read_header(path)
        if header.fps <= 0:
            raise ProbeError(f"{path}: the video stream has no frame rate")
        packets = demux_packets(path)
    except VideoError as e:
        raise ProbeError(str(e)) from None
    except (av.FFmpegError, OSError) as e:
        raise ProbeError(f"{path}: cannot open video: {e}") from None
    frames = len(packets.video_times) + packets.untimed or header.declared_frames
    if frames <= 0:
        raise ProbeError(f"{path}: the video has no frames")
    offset, times = (0.0, None) if packets.untimed else frame_clock(packets.video_times, header.fps)
    return VideoInfo(fps=header.fps, frames=frames, duration=frames / header.fps, width=header.width,
                     height=header.height, has_audio=header.has_audio, audio_rate=header.audio_rate,
                     header_frames=header.declared_frames, video_start=header.start,
                     audio_start=packets.audio_start if header.has_audio else None, clock_offset=offset,
                     frame_times=times)
