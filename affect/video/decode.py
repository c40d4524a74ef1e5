"""Streaming video decode with PyAV: RGB uint8 frames in batches, memory bounded by one batch.

Frames are numbered 0, 1, 2, ... in the order the decoder outputs them (presentation order),
which is the order of Aff-Wild2's label lines (line i+1 = frame i = image `%05d.jpg` % (i+1)).
Clock: clip time 0 is the first decoded frame's presentation time (`VideoInfo.start`, on the
container's clock); audio is put on the same clock (`affect.audio.extract`).

Resolution. With `max_side`, frames are scaled (by swscale, area filter, while converting from
YUV) so that their longer side is at most `max_side`; they are never enlarged. `VideoInfo`
holds the factor per axis (`scale_x = out_width / width`). Decision: anything a caller
stores (boxes, landmarks) is expressed in ORIGINAL-frame pixels, which do not depend on this
speed setting; `VideoInfo.to_original()` maps decoded-resolution coordinates back. With
`keep_full=True` a batch also carries the frames at the original resolution, so that faces
can be detected on small frames and cut out of the full-resolution ones.

Rotation. Phone videos carry a display matrix (the `rotate` flag): frame i must be turned
anticlockwise by `VideoFrame.rotation` degrees to be upright. `probe_video` reads it from the
first decoded frame (FFmpeg exports the matrix as frame side data) and rounds it to a multiple
of 90; `VideoInfo.width`/`height` are the UPRIGHT (displayed) size, every frame a reader
yields is upright, and so are all coordinates computed on them. Other angles are rounded to
the nearest quarter turn, with a warning. Likewise non-square pixels (a sample aspect ratio
other than 1, as anamorphic footage has): frames are resampled to the displayed width, and
`width` is in square pixels, so faces are not squeezed.

Errors. A file that cannot be opened, has no video stream or yields no frame raises
`VideoError` naming the file. A decode error after some frames first yields every frame
decoded before it, then raises `VideoError` (the frames already yielded stay valid; the
caller decides what the missing rest means). The decoder is never resumed after an error:
skipping a broken packet would shift the index of every later frame.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

import av
import numpy as np
from av.video.reformatter import VideoReformatter

log = logging.getLogger(__name__)
T = TypeVar("T")


class VideoError(Exception):
    """A video cannot be opened or decoded. `str(e)` is `"<path>: <reason>"`."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream a player shows (`pick_video_stream`), and the decoded size."""

    path: Path
    width: int  # original frame width (pixels)
    height: int  # original frame height
    fps: float  # average frame rate from the container (0.0 if unknown)
    declared_frames: int  # frame count from the container header (0 if unknown; often approximate)
    out_width: int  # width of decoded frames (== width unless max_side shrinks it)
    out_height: int  # height of decoded frames
    has_audio: bool = False  # the container has an audio stream
    audio_rate: int = 0  # its sample rate (0 without audio)
    rotation: int = 0  # 0 | 90 | 180 | 270: decoded pictures are turned anticlockwise by this to be upright
    start: float = 0.0  # presentation time (s, container clock) of the first decoded frame: clip time 0
    pixel_aspect: float = 1.0  # the coded pixels' width / height (SAR); `width` is already in square pixels

    @property
    def quarter_turns(self) -> int:
        """Anticlockwise quarter turns from the coded picture to the upright one (`np.rot90`'s k)."""
        return (self.rotation // 90) % 4

    def coded_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the coded picture whose upright version is `width` x `height`."""
        return (height, width) if self.quarter_turns % 2 else (width, height)

    @property
    def scale_x(self) -> float:
        return self.out_width / self.width

    @property
    def scale_y(self) -> float:
        return self.out_height / self.height

    @property
    def scaled(self) -> bool:
        return (self.out_width, self.out_height) != (self.width, self.height)

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map points `[..., 2]` (x, y) from decoded-frame pixels to original-frame pixels."""
        xy = np.asarray(xy, dtype=np.float32)
        return xy / np.array([self.scale_x, self.scale_y], dtype=np.float32)


@dataclass
class FrameBatch:
    """Consecutive frames `start .. start+len-1` of one video."""

    start: int  # index of the first frame in the video (0-based)
    frames: np.ndarray  # [B, out_height, out_width, 3] uint8 RGB
    full: np.ndarray | None = None  # [B, height, width, 3] original size; only with keep_full and a downscale
    index: np.ndarray | None = None  # [B] frame indices, when the batch holds selected frames (`only`)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def indices(self) -> np.ndarray:
        """Frame index of each row."""
        return self.index if self.index is not None else np.arange(self.start, self.start + len(self.frames))


def output_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """(width, height) after shrinking the longer side to at most `max_side` (aspect kept)."""
    if not max_side or max(width, height) <= max_side:
        return width, height
    s = max_side / max(width, height)
    return max(1, round(width * s)), max(1, round(height * s))


def _first_frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> tuple[int, float]:
    """(display rotation, presentation time in seconds) of the first decodable frame.

    When no frame decodes: rotation 0 and the stream's declared start time (0 when unknown).
    """
    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)), float(frame.time or 0.0)
    except (av.FFmpegError, ValueError):
        pass
    start = stream.start_time
    return 0, float(start * stream.time_base) if start is not None and stream.time_base else 0.0


def quarter_rotation(path: Path, degrees: float) -> int:
    """A display rotation in degrees as 0, 90, 180 or 270 (anticlockwise), warning when rounded."""
    turned = int(round(degrees / 90.0)) % 4 * 90
    if abs(((degrees - turned) + 180) % 360 - 180) > 1:
        log.warning("%s: display rotation %.1f° is not a quarter turn; frames are turned by %d°", path, degrees, turned)
    return turned


def _played(streams):
    """The stream a player picks: the first flagged default, else the first; None when there is none."""
    flagged = [s for s in streams if s.disposition & av.stream.Disposition.default]
    return (flagged or list(streams) or [None])[0]


def pick_video_stream(streams):
    """Of a container's video streams, the one a player shows: never a cover picture (attached_pic);
    None when there is only cover art."""
    return _played([s for s in streams if not s.disposition & av.stream.Disposition.attached_pic])


def pick_audio_stream(streams):
    """Of a container's audio streams (at least one), the one a player plays."""
    return _played(streams)


def probe_video(path: str | Path, max_side: int | None = None) -> VideoInfo:
    """Open `path`, read its video stream's header (`pick_video_stream`) and first frame, close it.

    Sizes are upright (see Rotation above). Raises `VideoError`.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(path, "file not found")
    try:
        with av.open(str(path)) as container:
            stream = pick_video_stream(container.streams.video)
            if stream is None:
                raise VideoError(path, "no video stream in the file" if not container.streams.video else
                                 "no video stream in the file, only a cover picture")
            width, height = stream.codec_context.width, stream.codec_context.height
            sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
            pixel_aspect = float(sar) if sar and float(sar) > 0 else 1.0
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            declared = int(stream.frames or 0)
            audio = container.streams.audio
            audio_rate = int(pick_audio_stream(audio).rate or 0) if audio else 0
            degrees, start = _first_frame(container, stream)
            rotation = quarter_rotation(path, degrees)
    except av.FFmpegError as e:
        raise VideoError(path, f"cannot open: {e}") from e
    if width <= 0 or height <= 0:
        raise VideoError(path, f"video stream has no frame size ({width}x{height})")
    if abs(pixel_aspect - 1.0) > 0.01:  # non-square pixels (anamorphic DV, some phones): decoded as displayed
        width = max(1, round(width * pixel_aspect))
    else:
        pixel_aspect = 1.0
    if rotation % 180:
        width, height = height, width
    out_w, out_h = output_size(width, height, max_side)
    return VideoInfo(path, width, height, fps, declared, out_w, out_h, bool(audio), audio_rate, rotation, start,
                     pixel_aspect)


class VideoReader:
    """Decode a video as a stream of upright `FrameBatch`es of at most `batch_size` frames.

    `stop`: frames from index `stop` on are decoded (to count them in `decoded`) but not
    converted nor yielded. `only`: the frame indices wanted; other frames are decoded but not
    converted nor yielded, and batches carry `index` (a second pass that needs a few frames
    at full size pays the decoding only). `threaded`: let FFmpeg decode with several threads
    (faster on large frames when cores are idle; pointless when they are all busy detecting).
    After iteration, `decoded` is the number of frames the decoder produced and `error` the
    decode error message, if any (also raised as `VideoError`).
    """

    def __init__(self, path: str | Path, *, batch_size: int = 32, max_side: int | None = None,
                 keep_full: bool = False, stop: int | None = None, threaded: bool = True,
                 only: Iterable[int] | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.path = Path(path)
        self.info = probe_video(self.path, max_side)
        self.batch_size = batch_size
        self.keep_full = keep_full and self.info.scaled
        self.stop = stop
        self.only = None if only is None else frozenset(int(i) for i in only)
        self.threaded = threaded
        self.decoded = 0
        self.error: str | None = None
        if self.info.rotation:
            log.info("%s: display rotation %d°: frames are turned upright", self.path, self.info.rotation)
        if self.info.pixel_aspect != 1.0:
            log.info("%s: pixel aspect %.3g: frames are resampled to square pixels (%dx%d)", self.path,
                     self.info.pixel_aspect, self.info.width, self.info.height)

    def _wanted(self, index: int) -> bool:
        if self.stop is not None and index >= self.stop:
            return False
        return self.only is None or index in self.only

    def _convert(self, frame: av.VideoFrame, to_small: VideoReformatter,
                 to_full: VideoReformatter) -> tuple[np.ndarray, np.ndarray | None]:
        """Upright RGB arrays of one frame; the reformatters keep their swscale context between frames."""
        info = self.info
        k = info.quarter_turns
        w, h = info.coded_size(info.out_width, info.out_height)
        small = to_small.reformat(frame, w, h, "rgb24", interpolation="AREA").to_ndarray()
        full = None
        if self.keep_full:
            w, h = info.coded_size(info.width, info.height)
            full = to_full.reformat(frame, w, h, "rgb24").to_ndarray()
        if k:  # views; np.stack makes the batch contiguous
            small = np.rot90(small, k)
            full = None if full is None else np.rot90(full, k)
        return small, full

    def _batch(self, start: int, small: list[np.ndarray], full: list[np.ndarray], index: list[int]) -> FrameBatch:
        return FrameBatch(start, np.stack(small), np.stack(full) if full else None,
                          np.asarray(index, np.int64) if self.only is not None else None)

    def __iter__(self) -> Iterator[FrameBatch]:
        self.decoded, self.error = 0, None
        small: list[np.ndarray] = []
        full: list[np.ndarray] = []
        index: list[int] = []
        try:
            container = av.open(str(self.path))
        except av.FFmpegError as e:
            raise VideoError(self.path, f"cannot open: {e}") from e
        to_small, to_full = VideoReformatter(), VideoReformatter()
        last = None if self.only is None else max(self.only, default=-1)
        with container:
            stream = pick_video_stream(container.streams.video)
            if stream is None:
                raise VideoError(self.path, "no video stream in the file")
            stream.thread_type = "AUTO" if self.threaded else "NONE"
            try:
                for frame in container.decode(stream):
                    if self._wanted(self.decoded):
                        s, f = self._convert(frame, to_small, to_full)
                        small.append(s)
                        index.append(self.decoded)
                        if f is not None:
                            full.append(f)
                    self.decoded += 1
                    if len(small) == self.batch_size:
                        yield self._batch(index[0], small, full, index)
                        small, full, index = [], [], []
                    if last is not None and self.decoded > last:
                        break  # a selective read stops after its last wanted frame
            except (av.FFmpegError, ValueError) as e:
                self.error = f"decode error after {self.decoded} frames: {e}"
        if small:
            yield self._batch(index[0], small, full, index)
        if self.error is not None:
            raise VideoError(self.path, self.error)
        if self.decoded == 0:
            raise VideoError(self.path, "no frames could be decoded (zero-frame video?)")


def iter_frames(path: str | Path, batch_size: int = 32,
                max_side: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """`(start_index, frames[B, H, W, 3] uint8)` for every batch of a video (see `VideoReader`)."""
    for batch in VideoReader(path, batch_size=batch_size, max_side=max_side):
        yield batch.start, batch.frames


_DONE = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """Iterate `items` in a background thread, at most `depth` items ahead of the consumer.

    Decoding and scaling (FFmpeg, swscale: both release the GIL) then overlap with whatever the
    consumer does with the previous batch (detection). An exception raised by `items` is
    re-raised in the consumer after the items produced before it. Leaving the loop early
    stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as e:  # handed to the consumer
            put((_DONE, e))
            return
        put((_DONE, None))

    thread = threading.Thread(target=work, name="video-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _DONE:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()
        thread.join()
