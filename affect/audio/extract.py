"""A video's audio as a 16 kHz mono float32 waveform, decoded and resampled as a stream with PyAV.

`decode_audio(path, rate)` returns the samples on the clip's clock: time 0 is the presentation
time of the video's first frame (`affect.video.decode.VideoInfo.start`), not the container's
time 0, so that sample `t * rate` plays with the frame shown at `t`. Any input rate and channel
count (channels are averaged to mono). Of several audio streams, the one flagged default is
decoded (else the first); `DecodedAudio.stream` says which (`audio.json` records it). An audio
stream that starts after the first frame is padded with zeros in front; samples before the first
frame (a video stream that starts late, encoder priming) are dropped.
`fit_to_duration` pads or trims to the video's duration and says which samples are real.

Errors: a file that cannot be opened or an audio stream that fails to decode raises `AudioError`
naming the file; a container without an audio stream returns None (the caller masks the track).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class AudioError(Exception):
    """An audio track cannot be opened or decoded. `str(e)` is `"<path>: <reason>"`."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class DecodedAudio:
    wave: np.ndarray  # float32 [samples] at `rate`
    rate: int
    source_rate: int  # the stream's own sample rate
    source_channels: int
    start: float  # seconds: where the stream's first sample sits on the clip's clock (0 = first video frame)
    origin: float = 0.0  # the first video frame's presentation time on the container's clock
    stream: str = ""  # which audio stream, when the file has several: "2 of 3 (default, eng; container stream 2)"


def _describe(stream, streams) -> str:
    import av

    position = [s.index for s in streams].index(stream.index) + 1
    notes = ["default"] if stream.disposition & av.stream.Disposition.default else ["first"]
    language = (stream.metadata or {}).get("language")
    if language and language != "und":
        notes.append(language)
    return f"{position} of {len(streams)} ({', '.join(notes)}; container stream {stream.index})"


def video_origin(path: str | Path) -> float:
    """The first video frame's presentation time (s, container clock); 0 without a video stream."""
    from affect.video.decode import VideoError, probe_video

    try:
        return probe_video(path).start
    except VideoError:
        return 0.0


def decode_audio(path: str | Path, rate: int = 16000, origin: float | None = None) -> DecodedAudio | None:
    """Decode the default (else first) audio stream of `path` to mono float32 at `rate` on the
    clip's clock; None when it has none. `origin`: the first video frame's time (read from the file when None)."""
    import av

    from affect.video.decode import pick_audio_stream

    path = Path(path)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise AudioError(path, f"cannot open: {e}") from None
    with container:
        if not container.streams.audio:
            return None
        streams = list(container.streams.audio)
        stream = pick_audio_stream(streams)
        resampler = av.AudioResampler(format="fltp", rate=rate)  # channels kept: averaged below
        chunks: list[np.ndarray] = []
        start: float | None = None
        try:
            for frame in container.decode(stream):
                if start is None:
                    start = float(frame.time) if frame.time is not None else 0.0
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().mean(axis=0))
        except av.error.FFmpegError as e:
            raise AudioError(path, f"audio stream {stream.index} fails to decode after "
                                   f"{sum(map(len, chunks)) / rate:.2f} s: {e}") from None
        wave = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
        if origin is None:
            origin = video_origin(path)
        start = (start or 0.0) - origin
        offset = int(round(start * rate))
        if offset > 0:
            wave = np.concatenate([np.zeros(offset, np.float32), wave])
        elif offset < 0:
            wave = wave[-offset:]
        return DecodedAudio(wave=wave, rate=rate, source_rate=int(stream.codec_context.sample_rate or 0),
                            source_channels=int(stream.codec_context.channels or 0), start=start,
                            origin=origin, stream=_describe(stream, streams) if len(streams) > 1 else "")


def fit_to_duration(wave: np.ndarray, samples: int) -> tuple[np.ndarray, int]:
    """Pad with zeros or trim to exactly `samples`; returns (wave, how many leading samples are real)."""
    real = min(len(wave), samples)
    if len(wave) >= samples:
        return wave[:samples], real
    return np.concatenate([wave, np.zeros(samples - len(wave), np.float32)]), real
