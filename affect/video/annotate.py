"""An annotated copy of a video: the person's face box, a valence-arousal gauge and trace, audio kept.

Frames are decoded upright at their original size (affect.video.decode), drawn on with PIL and
written with the original frame rate and audio track (affect.synth.mux.AVWriter: H.264 + AAC); a
variable-rate video is written at a constant rate that follows its real frame times.
The gauge (top left) is the valence (x) / arousal (y) plane with the current frame's point and
a short tail; the strip at the bottom is the whole clip's valence (blue) and arousal (red) with
a cursor at the current frame. Frames without a face get no box and a grey "no face" tag.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

BLUE, RED, GREEN, WHITE, GREY = (60, 130, 255), (240, 70, 60), (40, 220, 90), (255, 255, 255), (150, 150, 150)


def _trace_strip(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """[height, width, 3] uint8: valence and arousal of the whole clip over time (a static background)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (20, 20, 20))
    d = ImageDraw.Draw(img)
    d.line([(0, height // 2), (width, height // 2)], fill=(80, 80, 80))
    n = len(values)
    xs = np.linspace(0, width - 1, n) if n > 1 else np.zeros(n)
    for dim, colour in ((0, BLUE), (1, RED)):
        ys = (1 - (np.clip(values[:, dim], -1, 1) + 1) / 2) * (height - 4) + 2
        if n > 1:
            d.line(list(zip(xs.tolist(), ys.tolist())), fill=colour, width=2)
    return np.asarray(img)


def _draw(frame: np.ndarray, i: int, values: np.ndarray, face: np.ndarray, boxes: np.ndarray,
          strip: np.ndarray) -> np.ndarray:
    from PIL import Image, ImageDraw

    h, w = frame.shape[:2]
    img = Image.fromarray(frame)
    d = ImageDraw.Draw(img)
    if face[i] and np.isfinite(boxes[i]).all():
        x1, y1, x2, y2 = boxes[i].tolist()
        d.rectangle([x1, y1, x2, y2], outline=GREEN, width=max(2, w // 320))
    g = max(48, min(w, h) // 4)  # the gauge: a square of side g at the top left
    d.rectangle([4, 4, 4 + g, 4 + g], fill=(0, 0, 0), outline=WHITE)
    d.line([(4 + g // 2, 4), (4 + g // 2, 4 + g)], fill=GREY)
    d.line([(4, 4 + g // 2), (4 + g, 4 + g // 2)], fill=GREY)

    def point(k: int) -> tuple[float, float]:
        v, a = np.clip(values[k], -1, 1)
        return 4 + (v + 1) / 2 * g, 4 + (1 - (a + 1) / 2) * g

    tail = [point(k) for k in range(max(0, i - 15), i + 1)]
    if len(tail) > 1:
        d.line(tail, fill=(255, 200, 0), width=2)
    x, y = point(i)
    r = max(3, g // 16)
    d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 200, 0))
    d.text((8 + g, 6), f"V {values[i, 0]:+.2f}", fill=BLUE)
    d.text((8 + g, 20), f"A {values[i, 1]:+.2f}", fill=RED)
    if not face[i]:
        d.text((8 + g, 34), "no face", fill=GREY)
    out = np.asarray(img).copy()
    sh = strip.shape[0]
    out[h - sh:, :] = (0.35 * out[h - sh:, :] + 0.65 * strip).astype(np.uint8)
    cursor = int(round(i / max(len(values) - 1, 1) * (w - 1)))
    out[h - sh:, max(cursor - 1, 0): cursor + 1] = WHITE
    return out


def frame_slots(centres: np.ndarray, fps: float) -> np.ndarray:
    """For each frame of a constant-rate copy at `fps`, the input frame shown then: the last one whose
    centre (s, clip clock) has come, as a player holds a frame until the next. A gap in a
    variable-rate video repeats its last frame; frames denser than `fps` are dropped."""
    if len(centres) == 0:
        return np.zeros(0, np.int64)
    slots = int(np.ceil(float(centres[-1]) * fps + 0.5 - 1e-6))
    slot_centres = (np.arange(slots) + 0.5) / fps
    return np.clip(np.searchsorted(centres, slot_centres + 0.25 / fps, side="right") - 1, 0, None)


def render_annotated(video: Path, out: Path, values: np.ndarray, face: np.ndarray, boxes: np.ndarray,
                     fps: float, centres: np.ndarray | None = None) -> int:
    """Write `out` (mp4): `video`'s frames annotated with `values` [frames, 2]; returns frames written.

    `boxes` [frames, 4] (x1, y1, x2, y2 in original-frame pixels, NaN where none) and `face`
    [frames] bool come from stage 01. Frames past the predictions' end are copied unannotated.
    `centres` [frames]: each frame's real time (s) when the video's frame rate varies; the copy is
    written at a constant `fps` that follows them (`frame_slots`), so picture and sound stay together.
    """
    from affect.audio.extract import decode_audio
    from affect.cache import atomic
    from affect.synth.mux import AVWriter
    from affect.video.decode import VideoReader

    reader = VideoReader(video, batch_size=16)
    w, h = reader.info.width, reader.info.height
    w, h = w - w % 2, h - h % 2  # H.264 wants even sides
    audio = decode_audio(video, rate=48000)
    rate = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
    strip = _trace_strip(values, w, max(24, h // 8))
    shown = frame_slots(np.asarray(centres, np.float64), float(rate)) if centres is not None else None
    i = k = 0  # input frame, output frame
    with atomic.atomic_path(out) as tmp:
        with AVWriter(tmp, rate, w, h, audio=None if audio is None or not len(audio.wave) else audio.wave[None],
                      sample_rate=48000) as writer:
            for batch in reader:
                for frame in batch.frames:
                    frame = np.ascontiguousarray(frame[:h, :w])
                    drawn = _draw(frame, i, values, face, boxes, strip) if i < len(values) else frame
                    if shown is None or i >= len(centres):  # constant rate, or past the timed frames
                        writer.write(drawn)
                        k += 1
                    else:
                        while k < len(shown) and shown[k] <= i:
                            writer.write(drawn)
                            k += 1
                    i += 1
    return k
