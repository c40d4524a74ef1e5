"""Tracks of faces along a clip (pass 1 of stage 01), kept as small per-detection records.

`FaceTracker.push` takes one frame's detections at a time and links them into tracks:
detections with score >= `min_score` are matched to the tracks seen in the last
`track_window` frames, greedily by box IoU (>= `track_iou`), else by centre distance
(<= `track_dist` x the track's box side); unmatched detections start new tracks. A track
not seen for more than `track_window` frames ends: a face that comes back later (after a cut,
or after leaving the picture) starts a new track, and `affect.face.identity` decides, over
the whole clip, which tracks are one person and which person is the subject.

Each detection gets a weight, its say in choosing the subject: for the main face (no side)
its prominence, size x centrality (`side / max(W, H) x (1 - 0.5 x distance to the frame
centre / half diagonal)`); for side "left" / "right", 1 if it is the leftmost / rightmost of
the major faces in the frame (at least `major_face` x the largest one's side), or, when it
is the only major face, if it lies on that half of the frame; else 0.

Cuts. Box overlap alone would carry a track across a cut to whoever stands where the subject
stood. When `push` is given the frame, each detection also gets a 16 x 16 grey thumbnail of
the square its landmarks span (zero mean, unit norm; landmarks jitter less than boxes); a
detection whose thumbnail correlates less than `track_similarity` with its track's last one
does not continue it: the track ends there ("ended by a change") and the detection starts a
new track ("started by a change"). Measured: one face against itself moved by up to 6 px and
scaled by up to 7% >= 0.937 (the five test faces, `tests/face/photos` + the astronaut), 0.875
between consecutive frames of the synthetic corpus at 256 px; two people in the same place
<= 0.637 (10 pairs x 2 sizes); default 0.75.

For re-identification by appearance, `push` may be given an embedder (`affect.face.reid`):
it describes at most `reid_samples` detections per track, at least `reid_every` frames apart
(the first detection of a track always).

Memory: a record is ~70 bytes per detection (no image), so a 15-minute clip at 30 fps with
three faces in view holds ~6 MB; images are not kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image

from affect.face.config import FacesConfig
from affect.face.detect import Detections

NONE, DETECTED, INTERPOLATED, PROVIDED = 0, 1, 2, 3  # values of `source`

Embed = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image, boxes [n, 4] in its pixels) -> [n, D]
THUMB = 16  # side of the grey thumbnails compared across frames


@dataclass
class Target:
    """The decision for one frame."""

    frame: int  # frame index (0-based)
    source: int = NONE  # NONE | DETECTED | INTERPOLATED
    box: np.ndarray | None = None  # [4] float32 x1, y1, x2, y2
    landmarks: np.ndarray | None = None  # [5, 2] float32
    score: float = math.nan  # detector score (NaN unless DETECTED)
    track: int = -1  # id of the target track (-1: no target)

    @property
    def found(self) -> bool:
        return self.source != NONE


def normalize_side(side: object) -> str | None:
    """'left' | 'right' | None (main face) from a manifest value (None, '', NaN, 'left', ...)."""
    if side is None or (isinstance(side, float) and math.isnan(side)):
        return None
    s = str(side).strip().lower().lstrip("_")
    if s in ("", "none", "main"):
        return None
    if s not in ("left", "right"):
        raise ValueError(f"side must be 'left', 'right' or empty, got {side!r}")
    return s


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes `a` [n, 4] with boxes `b` [m, 4] -> [n, m]."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / (area_a[:, None] + area_b[None, :] - inter)
    return np.nan_to_num(iou)


def box_centre(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def box_side(boxes: np.ndarray) -> np.ndarray:
    """Geometric mean of box width and height."""
    return np.sqrt(np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None))


@dataclass
class TrackRecords:
    """Every kept detection of a clip, one row each, in frame order (the input of identity choice)."""

    frame: np.ndarray  # [n] int64
    track: np.ndarray  # [n] int64
    box: np.ndarray  # [n, 4] float32, original-frame pixels
    landmarks: np.ndarray  # [n, 5, 2] float32
    score: np.ndarray  # [n] float32
    weight: np.ndarray  # [n] float64: say in choosing the subject (see module docstring)
    descriptors: dict[int, np.ndarray]  # track id -> [k, D] float32 appearance samples (may be empty)
    ended_by_change: set[int]  # tracks that ended where their face's look changed abruptly (a cut)
    started_by_change: set[int]  # tracks that started there
    frames: int  # frames pushed
    frame_size: tuple[int, int]  # (width, height)

    def __len__(self) -> int:
        return len(self.frame)


class FaceTracker:
    """Links one clip's detections into tracks; `records()` hands everything over at the end."""

    def __init__(self, cfg: FacesConfig, frame_size: tuple[int, int], side: str | None = None) -> None:
        self.cfg = cfg
        self.width, self.height = frame_size  # coordinates of the detections pushed
        self.side = normalize_side(side)
        self.window = max(0, int(cfg.track_window))
        self._pushed = 0
        self._next_id = 0
        self._alive: dict[int, tuple[int, np.ndarray]] = {}  # id -> (last frame seen, last box)
        self._rows: list[tuple[int, int, np.ndarray, np.ndarray, float, float]] = []
        self._desc: dict[int, list[np.ndarray]] = {}
        self._last_sample: dict[int, int] = {}
        self._thumb: dict[int, np.ndarray] = {}  # alive track -> thumbnail of its last detection
        self._ended: set[int] = set()
        self._started: set[int] = set()

    @property
    def pushed(self) -> int:
        return self._pushed

    def _associate(self, dets: Detections, thumbs: np.ndarray | None) -> list[int]:
        t = self._pushed
        alive = [(tid, box) for tid, (seen, box) in self._alive.items() if t - seen <= self.window]
        self._alive = {tid: self._alive[tid] for tid, _ in alive}
        self._thumb = {tid: self._thumb[tid] for tid, _ in alive if tid in self._thumb}
        changed: dict[int, int] = {}  # det index -> the track its look broke away from
        assigned: dict[int, int] = {}  # det index -> track id
        if alive and len(dets):
            tboxes = np.stack([b for _, b in alive])
            iou = box_iou(tboxes, dets.boxes)
            dist = np.linalg.norm(box_centre(tboxes)[:, None] - box_centre(dets.boxes)[None], axis=-1)
            near = dist <= self.cfg.track_dist * np.maximum(box_side(tboxes), 1.0)[:, None]
            ok = (iou >= self.cfg.track_iou) | near
            pairs = sorted(zip(*np.nonzero(ok)), key=lambda p: (-iou[p], dist[p]))  # best pairs first
            used: set[int] = set()
            for ti, di in pairs:
                if ti in used or di in assigned:
                    continue
                tid = alive[ti][0]
                if thumbs is not None and self._changed_look(thumbs[di], self._thumb.get(tid)):
                    changed.setdefault(di, tid)
                    continue
                used.add(ti)
                assigned[di] = tid
        ids = []
        for di in range(len(dets)):
            tid = assigned.get(di)
            if tid is None:
                tid, self._next_id = self._next_id, self._next_id + 1
                if di in changed:  # the old track ends here: its place is taken by another look
                    self._ended.add(changed[di])
                    self._started.add(tid)
                    self._alive.pop(changed[di], None)
                    self._thumb.pop(changed[di], None)
            self._alive[tid] = (t, dets.boxes[di])
            if thumbs is not None:
                self._thumb[tid] = thumbs[di]
            ids.append(tid)
        return ids

    def _changed_look(self, thumb: np.ndarray, last: np.ndarray | None) -> bool:
        """Whether a detection's thumbnail breaks from its track's last one (flat ones never do)."""
        if last is None or not thumb.any() or not last.any():
            return False
        return float(thumb @ last) < self.cfg.track_similarity

    @staticmethod
    def _thumbnails(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """`[n, THUMB * THUMB]` zero-mean unit-norm grey thumbnails of the faces with `landmarks`
        (`[n, 5, 2]` image pixels): a square on the landmarks' centre, 2.5 x the eye-to-mouth
        distance (steadier from frame to frame than the detector's box)."""
        out = np.zeros((len(landmarks), THUMB * THUMB), np.float32)
        h, w = image.shape[:2]
        centre = landmarks.mean(axis=1)
        reach = 1.25 * np.linalg.norm(landmarks[:, :2].mean(axis=1) - landmarks[:, 3:].mean(axis=1), axis=-1)
        squares = np.concatenate([centre - reach[:, None], centre + reach[:, None]], axis=1)
        for i, (x1, y1, x2, y2) in enumerate(np.round(squares).astype(int)):
            cx1, cy1, cx2, cy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
            if cx2 - cx1 < 2 or cy2 - cy1 < 2 or x2 - x1 > 4 * (cx2 - cx1) or y2 - y1 > 4 * (cy2 - cy1):
                continue  # (mostly) outside the frame: no thumbnail
            region = image[cy1:cy2, cx1:cx2]
            if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):  # a face at the border: the part outside is edge pixels
                region = np.pad(region, ((cy1 - y1, y2 - cy2), (cx1 - x1, x2 - cx2), (0, 0)), mode="edge")
            region = Image.fromarray(np.ascontiguousarray(region)).convert("L")
            v = np.asarray(region.resize((THUMB, THUMB), Image.Resampling.BILINEAR), np.float32).ravel()
            v -= v.mean()
            norm = float(np.linalg.norm(v))
            if norm > 1e-3 * THUMB:  # a flat region (no texture) stays all zero: not compared
                out[i] = v / norm
        return out

    def _weights(self, boxes: np.ndarray) -> np.ndarray:
        if not len(boxes):
            return np.zeros(0)
        boxes = boxes.astype(np.float64)
        sides, centres = box_side(boxes), box_centre(boxes)
        if self.side is None:
            half_diag = math.hypot(self.width, self.height) / 2
            d = np.linalg.norm(centres - [self.width / 2, self.height / 2], axis=-1) / half_diag
            return sides / max(self.width, self.height) * (1 - 0.5 * np.clip(d, 0, 1))
        major = np.nonzero(sides >= self.cfg.major_face * sides.max())[0]
        w = np.zeros(len(boxes))
        if len(major) == 1:
            if (centres[major[0], 0] < self.width / 2) == (self.side == "left"):
                w[major[0]] = 1.0
        else:
            xs = centres[major, 0]
            w[major[np.argmin(xs) if self.side == "left" else np.argmax(xs)]] = 1.0
        return w

    def _sample(self, ids: list[int], boxes: np.ndarray, image: np.ndarray, embed: Embed) -> None:
        t = self._pushed
        due = [i for i, tid in enumerate(ids)
               if len(self._desc.get(tid, ())) < self.cfg.reid_samples
               and t - self._last_sample.get(tid, -10 ** 9) >= self.cfg.reid_every]
        if not due:
            return
        desc = np.asarray(embed(image, boxes[due]), np.float32)
        for i, d in zip(due, desc):
            self._last_sample[ids[i]] = t
            if np.isfinite(d).all():
                self._desc.setdefault(ids[i], []).append(d)

    def push(self, dets: Detections, image: np.ndarray | None = None, scale: tuple[float, float] = (1.0, 1.0),
             embed: Embed | None = None) -> list[int]:
        """Add the next frame's detections (original-frame pixels); returns the track id of each
        detection kept (score >= `min_score`), in their order.

        `image`: the frame the detector saw, whose pixels are original pixels x `scale` (x, y):
        with it, tracks break at abrupt changes of a face's look, and `embed` (if given)
        describes faces for re-identification.
        """
        if len(dets):
            dets = dets.select(dets.scores >= self.cfg.min_score)
        boxes = dets.boxes * np.array(scale * 2, np.float32) if image is not None else None
        thumbs = None
        if image is not None and len(dets):
            thumbs = self._thumbnails(image, dets.landmarks * np.array(scale, np.float32))
        ids = self._associate(dets, thumbs)
        weights = self._weights(dets.boxes)
        for i, tid in enumerate(ids):
            self._rows.append((self._pushed, tid, dets.boxes[i], dets.landmarks[i], float(dets.scores[i]),
                               float(weights[i])))
        if embed is not None and image is not None and ids and self.cfg.reid_samples > 0:
            self._sample(ids, boxes, image, embed)
        self._pushed += 1
        return ids

    def records(self) -> TrackRecords:
        """Everything pushed so far, as arrays."""
        rows = self._rows
        desc = {tid: np.stack(d) for tid, d in self._desc.items() if d}
        if not rows:
            return TrackRecords(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 4), np.float32),
                                np.zeros((0, 5, 2), np.float32), np.zeros(0, np.float32), np.zeros(0), desc,
                                set(self._ended), set(self._started), self._pushed, (self.width, self.height))
        return TrackRecords(np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.int64),
                            np.stack([r[2] for r in rows]).astype(np.float32),
                            np.stack([r[3] for r in rows]).astype(np.float32),
                            np.array([r[4] for r in rows], np.float32), np.array([r[5] for r in rows]),
                            desc, set(self._ended), set(self._started), self._pushed, (self.width, self.height))
