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

Frames past the end of the decoded video, past a decode error, or without the subject's face
are rows with `found = False`. A clip with no face at all is not an error (warning only).

Two passes over the video. The subject is chosen from the whole clip (`affect.face.identity`),
so crops cannot be cut as frames stream by: pass 1 decodes frames shrunk to `max_side`,
detects, links detections into tracks and keeps only their records (~70 bytes per face, no
image; descriptors for re-identification are computed here, on the frames in hand); then the
subject is chosen; pass 2 decodes the video again and converts to RGB only the frames that get
a crop, at full size, and warps them. Alternatives weighed: keeping images or crops of every
candidate face (memory or JPEG work grows with the number of faces in view), or a local-window
choice (a one-pass tracker was seen to switch to a bystander). Cost on 1080p H.264 with detection
at 640 px (`benchmarks/faces_bench.py --only hd`, one CPU thread): both decodes, the crops and
the tracking add ~20% CPU time to bare MTCNN (~19 ms a frame beside ~75 ms of detection),
about half of it the second decode; the full-size RGB conversion pass 2 does replaces the
one pass 1 would otherwise need. With `faces.reader_thread`, decoding and resizing run in a
thread, overlapping detection where a core is free.
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
from affect.face.identity import choose_subject, subject_targets
from affect.face.reid import FaceEmbedder
from affect.face.track import DETECTED, INTERPOLATED, NONE, PROVIDED, FaceTracker, Target, normalize_side
from affect.video.decode import VideoError, VideoReader, prefetch

log = logging.getLogger(__name__)

FACES_NAME = "faces.npz"
FULL_BATCH = 8  # frames per batch of pass 2 (full size)


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


def _detect_tracks(reader: VideoReader, tracker: FaceTracker, detector: FaceDetector,
                   embedder: FaceEmbedder | None, cfg: FacesConfig, desc: str) -> str | None:
    """Pass 1: detect on (shrunk) frames, link into tracks, sample descriptors. Returns a decode
    error message, or None; raises `VideoError` when not a single frame decodes."""
    info = reader.info
    batches = prefetch(reader) if cfg.reader_thread else iter(reader)
    bar = tqdm(total=reader.stop, desc=desc, unit="frame", leave=False, disable=None)
    try:
        for batch in batches:
            dets = detector.detect(batch.frames)
            for image, d in zip(batch.frames, dets):  # thumbnails and descriptors from the detection-size frame
                tracker.push(d.scaled(info.scale_x, info.scale_y) if info.scaled else d, image,
                             (info.scale_x, info.scale_y), embedder)
            bar.update(len(batch))
    except VideoError as e:
        if reader.decoded == 0:
            raise
        return e.reason
    finally:
        bar.close()
    return None


def _store_crops(video: Path, targets: list[Target], arrays: FaceArrays, writer: CropWriter,
                 aligner: Aligner, cfg: FacesConfig) -> None:
    """Pass 2: decode the frames that have a target at full size, warp and store their crops."""
    found = [t for t in targets if t.found]
    if not found:
        return
    mats = aligner.matrices(np.stack([t.landmarks for t in found]))
    ok = np.isfinite(mats).all(axis=(1, 2))
    if not ok.all():  # landmarks collapsed to a point: no usable face
        log.warning("%s: frames %s: degenerate landmarks, marked no-face", video.name,
                    [t.frame for t, k in zip(found, ok) if not k])
    by_frame = {t.frame: (t, m) for t, m, k in zip(found, mats, ok) if k}
    if not by_frame:
        return
    # full-size frames are big (a 1080p batch of 8 is 50 MB): small batches, one batch ahead
    reader = VideoReader(video, batch_size=min(cfg.batch_size, FULL_BATCH), only=by_frame, threaded=True)
    batches = prefetch(reader, depth=1) if cfg.reader_thread else iter(reader)
    a = arrays
    try:
        for batch in batches:
            chosen = [by_frame[int(i)] for i in batch.indices]
            crops = warp_faces(list(batch.frames), np.stack([m for _, m in chosen]), aligner.size)
            for (t, m), crop in zip(chosen, crops):
                writer.write(t.frame, crop)
                a.source[t.frame], a.score[t.frame], a.track[t.frame] = t.source, t.score, t.track
                a.box[t.frame], a.landmarks[t.frame], a.matrix[t.frame] = t.box, t.landmarks, m
    except VideoError as e:  # pass 1 read these frames: a second read should not fail
        log.warning("%s: %s while cutting crops; frames without a crop are no-face", video, e.reason)


def extract_faces(video: Path, out_dir: Path, *, frames: int, side: str | None, cfg: FacesConfig,
                  detector: FaceDetector, embedder: FaceEmbedder | None = None) -> dict[str, Any]:
    """Detect, track and choose the subject of the first `frames` frames; align and store its crops.

    Two passes over the video (see the module docstring): detections of the whole clip first,
    then the subject's crops from the full-size frames. `side`: "left" / "right" for
    Aff-Wild2's two-person clips, None or "" for the main face. `embedder`: dlib descriptors
    for re-identification by appearance (None: geometry only). Raises `VideoError` when the
    video cannot be opened or yields no frame; a decode error later keeps the frames decoded
    before it (the rest are no-face) and is reported as `decode_error` in the returned summary.
    """
    t0 = time.perf_counter()
    video, out_dir = Path(video), Path(out_dir)
    if frames < 0:
        raise ValueError(f"{video}: frames must be >= 0, got {frames}")
    side = normalize_side(side)
    # on the CPU the detector keeps every core busy: decoder threads would only compete with it
    # (and give each thread its own malloc arena, which made the peak memory less steady)
    reader = VideoReader(video, batch_size=cfg.batch_size, max_side=cfg.max_side, stop=frames,
                         threaded=detector.device.type != "cpu")
    info = reader.info
    tracker = FaceTracker(cfg, (info.width, info.height), side)
    decode_error = _detect_tracks(reader, tracker, detector, embedder, cfg, video.stem)
    if decode_error is not None:
        lost = f"frames from {reader.decoded} on are no-face" if reader.decoded < frames else "no needed frame lost"
        log.warning("%s: %s; %s", video, decode_error, lost)
    records = tracker.records()
    choice = choose_subject(records, cfg, appearance=embedder is not None)
    note = "" if embedder is not None or cfg.reid == "geometry" else " (no appearance backend: dlib or its models missing)"
    (log.warning if choice.ambiguous or choice.subject is None else log.info)(
        "%s%s: %s%s", video.name, f" [{side}]" if side else "", choice.reason, note)
    targets = subject_targets(records, choice, cfg.max_gap)
    t1 = time.perf_counter()
    arrays = FaceArrays(frames, cfg.size, (info.width, info.height))
    with CropWriter(out_dir, frames, size=cfg.size, quality=cfg.jpeg_quality) as writer:
        _store_crops(video, targets, arrays, writer, Aligner(cfg.size, cfg.template_scale, cfg.template_shift_y), cfg)
    arrays.save(out_dir / FACES_NAME)
    release_heap()

    counts = arrays.counts()
    summary: dict[str, Any] = {"frames": int(frames), "decoded": int(reader.decoded),
                               "frame_diff": int(reader.decoded) - int(frames), **counts,
                               "decode_error": decode_error, "rotation": info.rotation,
                               "persons": len(choice.persons), "reid": choice.backend,
                               "subject_tracks": " ".join(str(t.id) for t in choice.subject.tracks) if choice.subject else "",
                               "ambiguous": choice.ambiguous,
                               "seconds": round(time.perf_counter() - t0, 3),
                               "seconds_crops": round(time.perf_counter() - t1, 3)}
    summary.pop("provided")
    if reader.decoded != frames:
        log.warning("%s: decoded %d frames, the manifest says %d: %s", video, reader.decoded, frames,
                    "extra frames ignored" if reader.decoded > frames else "missing frames are no-face")
    if counts["found"] == 0:
        turned = (f" (its display-rotation flag of {info.rotation:g} degrees was applied: if the flag is wrong, "
                  "the faces lie on their side)") if info.rotation else ""
        log.warning("%s: no face found in any of its %d frames%s; the clip is fully masked", video, frames, turned)
    log.info("%s: %d frames, %d detected, %d interpolated, %d no-face (%.1f s, crops %.1f s)", video.name, frames,
             counts["detected"], counts["interpolated"], counts["no_face"], summary["seconds"], summary["seconds_crops"])
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
