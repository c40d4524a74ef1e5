"""The per-clip job of stage 01: video -> tracked, aligned face crops and per-frame face arrays.

Output in `out_dir` (exactly `frames` rows, frame i = label line i+1 = `%05d.jpg` % (i+1)):

    crops.bin, crops_index.npz   aligned crops, `size` x `size` JPEG (see `affect.face.crops`)
    faces.npz
        found      bool    [N]        the frame has a crop (source 1, 2 or 3)
        source     int8    [N]        0 none, 1 detected, 2 interpolated, 3 provided
        score      float32 [N]        MTCNN O-net score (NaN unless detected)
        box        float32 [N, 4]     x1, y1, x2, y2 in original-frame pixels (NaN where none)
        landmarks  float32 [N, 5, 2]  eyes, nose, mouth corners (x, y), original-frame pixels
        matrix     float32 [N, 2, 3]  frame -> crop similarity (crop = M @ [x, y, 1]); NaN where none
        track      int32   [N]        id of the target track (-1 where none)
        frame_size int32   [2]        original frame width, height ([0, 0] for provided crops)
        size       int32   []         crop side

Frames past the end of the decoded video, past a decode error, or without the target face
are rows with `found = False`. A clip with no face at all is not an error (warning only).
"""
from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from affect.face.align import Aligner, warp_faces
from affect.face.config import FacesConfig
from affect.face.crops import CropWriter
from affect.face.detect import FaceDetector
from affect.face.heap import release_heap
from affect.face.track import DETECTED, INTERPOLATED, NONE, PROVIDED, FaceTracker, Target, normalize_side
from affect.video.decode import VideoError, VideoReader

log = logging.getLogger(__name__)

FACES_NAME = "faces.npz"


class FaceArrays:
    """The per-frame arrays of `faces.npz`, filled in as frames are decided."""

    def __init__(self, frames: int, size: int, frame_size: tuple[int, int] = (0, 0)) -> None:
        n = int(frames)
        self.source = np.full(n, NONE, np.int8)
        self.score = np.full(n, np.nan, np.float32)
        self.box = np.full((n, 4), np.nan, np.float32)
        self.landmarks = np.full((n, 5, 2), np.nan, np.float32)
        self.matrix = np.full((n, 2, 3), np.nan, np.float32)
        self.track = np.full(n, -1, np.int32)
        self.size = size
        self.frame_size = frame_size

    def save(self, path: Path) -> None:
        np.savez_compressed(path, found=self.source != NONE, source=self.source, score=self.score,
                            box=self.box, landmarks=self.landmarks, matrix=self.matrix, track=self.track,
                            frame_size=np.asarray(self.frame_size, np.int32), size=np.int32(self.size))

    def counts(self) -> dict[str, int]:
        return {"found": int((self.source != NONE).sum()), "detected": int((self.source == DETECTED).sum()),
                "interpolated": int((self.source == INTERPOLATED).sum()),
                "provided": int((self.source == PROVIDED).sum()), "no_face": int((self.source == NONE).sum())}


class _Emitter:
    """Aligns and stores decided frames; holds each frame image until its decision is final."""

    def __init__(self, arrays: FaceArrays, writer: CropWriter, aligner: Aligner) -> None:
        self.arrays, self.writer, self.aligner = arrays, writer, aligner
        self.images: dict[int, np.ndarray] = {}  # frame index -> image (a view into its batch)

    def __call__(self, targets: list[Target]) -> None:
        found = [t for t in targets if t.found]
        if found:
            mats = self.aligner.matrices(np.stack([t.landmarks for t in found]))
            ok = np.isfinite(mats).all(axis=(1, 2))
            if not ok.all():  # landmarks collapsed to a point: no usable face
                bad = [t.frame for t, k in zip(found, ok) if not k]
                log.warning("frames %s: degenerate landmarks, marked no-face", bad)
                found, mats = [t for t, k in zip(found, ok) if k], mats[ok]
            crops = warp_faces([self.images[t.frame] for t in found], mats, self.aligner.size)
            a = self.arrays
            for t, crop, m in zip(found, crops, mats):
                self.writer.write(t.frame, crop)
                a.source[t.frame], a.score[t.frame], a.track[t.frame] = t.source, t.score, t.track
                a.box[t.frame], a.landmarks[t.frame], a.matrix[t.frame] = t.box, t.landmarks, m
        for t in targets:
            self.images.pop(t.frame, None)


def extract_faces(video: Path, out_dir: Path, *, frames: int, side: str | None, cfg: FacesConfig,
                  detector: FaceDetector) -> dict[str, Any]:
    """Detect, track, align and store the target face of each of the first `frames` frames.

    `side`: "left" / "right" for Aff-Wild2's two-person clips, None or "" for the main face.
    Raises `VideoError` when the video cannot be opened or yields no frame; a decode error
    later keeps the frames decoded before it (the rest are no-face) and is reported as
    `decode_error` in the returned summary.
    """
    t0 = time.perf_counter()
    video, out_dir = Path(video), Path(out_dir)
    if frames < 0:
        raise ValueError(f"{video}: frames must be >= 0, got {frames}")
    side = normalize_side(side)
    # on the CPU the detector keeps every core busy: decoder threads would only compete with it
    # (and give each thread its own malloc arena, which made the peak memory less steady)
    reader = VideoReader(video, batch_size=cfg.batch_size, max_side=cfg.max_side, keep_full=True, stop=frames,
                         threaded=detector.device.type != "cpu")
    info = reader.info
    arrays = FaceArrays(frames, cfg.size, (info.width, info.height))
    tracker = FaceTracker(cfg, (info.width, info.height), side)
    decode_error = None
    with CropWriter(out_dir, frames, size=cfg.size, quality=cfg.jpeg_quality) as writer:
        emit = _Emitter(arrays, writer, Aligner(cfg.size, cfg.template_scale, cfg.template_shift_y))
        bar = tqdm(total=frames, desc=video.stem, unit="frame", leave=False, disable=None)
        try:
            for batch in reader:
                dets = detector.detect(batch.frames)
                images = batch.full if batch.full is not None else batch.frames
                decided: list[Target] = []
                for i, d in enumerate(dets):
                    if info.scaled:
                        d = d.scaled(info.scale_x, info.scale_y)
                    emit.images[batch.start + i] = images[i]
                    decided += tracker.push(d)
                emit(decided)
                bar.update(len(batch))
        except VideoError as e:
            if reader.decoded == 0:
                raise
            decode_error = e.reason
            lost = f"frames from {reader.decoded} on are no-face" if reader.decoded < frames else "no needed frame lost"
            log.warning("%s: %s; %s", video, e.reason, lost)
        finally:
            bar.close()
        emit(tracker.finish())
    arrays.save(out_dir / FACES_NAME)
    release_heap()

    counts = arrays.counts()
    summary: dict[str, Any] = {"frames": int(frames), "decoded": int(reader.decoded),
                               "frame_diff": int(reader.decoded) - int(frames), **counts,
                               "decode_error": decode_error, "seconds": round(time.perf_counter() - t0, 3)}
    summary.pop("provided")
    if reader.decoded != frames:
        log.warning("%s: decoded %d frames, the manifest says %d: %s", video, reader.decoded, frames,
                    "extra frames ignored" if reader.decoded > frames else "missing frames are no-face")
    if counts["found"] == 0:
        log.warning("%s: no face found in any of its %d frames; the clip is fully masked", video, frames)
    log.info("%s: %d frames, %d detected, %d interpolated, %d no-face (%.1f s)", video.name, frames,
             counts["detected"], counts["interpolated"], counts["no_face"], summary["seconds"])
    return summary


def faces_from_provided(crop_dir: Path, out_dir: Path, *, frames: int, cfg: FacesConfig) -> dict[str, Any]:
    """Store a corpus's own aligned crops (`crop_dir/00001.jpg`, 1-based) in the same format.

    Crops are resized to `cfg.size` (bicubic) unless they already have that size, in which case
    their JPEG bytes are copied as they are. Missing or unreadable files are no-face frames;
    files past `frames` are ignored (and counted).
    """
    t0 = time.perf_counter()
    crop_dir, out_dir = Path(crop_dir), Path(out_dir)
    if not crop_dir.is_dir():
        raise FileNotFoundError(f"{crop_dir}: no such folder of aligned crops")
    names = {p.name for p in crop_dir.iterdir()}
    arrays = FaceArrays(frames, cfg.size)
    unreadable = 0
    with CropWriter(out_dir, frames, size=cfg.size, quality=cfg.jpeg_quality) as writer:
        for i in tqdm(range(frames), desc=crop_dir.name, unit="frame", leave=False, disable=None):
            name = f"{i + 1:05d}.jpg"
            if name not in names:
                continue
            path = crop_dir / name
            try:
                data = _provided_crop(path, cfg)
            except (OSError, ValueError) as e:
                unreadable += 1
                log.warning("%s: unreadable crop, frame marked no-face: %s", path, e)
                continue
            writer.write_jpeg(i, data)
            arrays.source[i] = PROVIDED
    arrays.save(out_dir / FACES_NAME)

    beyond = sum(1 for n in names if n.endswith(".jpg") and n[:-4].isdigit() and int(n[:-4]) > frames)
    counts = arrays.counts()
    if beyond:
        log.warning("%s: %d crop files past frame %d ignored", crop_dir, beyond, frames)
    if counts["found"] == 0:
        log.warning("%s: no crop for any of its %d frames; the clip is fully masked", crop_dir, frames)
    summary: dict[str, Any] = {"frames": int(frames), "decoded": None, "frame_diff": 0, **counts,
                               "files_beyond": beyond, "unreadable": unreadable, "decode_error": None,
                               "seconds": round(time.perf_counter() - t0, 3)}
    log.info("%s: %d frames, %d crops, %d no-face", crop_dir.name, frames, counts["found"], counts["no_face"])
    return summary


def _provided_crop(path: Path, cfg: FacesConfig) -> bytes:
    """JPEG bytes of one provided crop at `cfg.size` (copied when no resize is needed)."""
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        if img.format == "JPEG" and img.mode == "RGB" and img.size == (cfg.size, cfg.size):
            img.verify()
            return data
        img = img.convert("RGB").resize((cfg.size, cfg.size), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=cfg.jpeg_quality)
    return buf.getvalue()
