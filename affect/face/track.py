"""The target face of every frame: tracks, a windowed choice of the target track, gap bridging.

Online, three steps, each with bounded memory:

1. Association (immediate). Detections with score >= `min_score` are linked to the tracks seen
   in the last `track_window` frames: greedily by box IoU (>= `track_iou`), else by centre
   distance (<= `track_dist` x the track's box side). Unmatched detections start new tracks.
2. Target choice (look-back and look-ahead of `track_window` frames). Each track present in a
   frame gets a weight: for the main face (no side) its prominence, size x centrality
   (`side / max(W, H) x (1 - 0.5 x distance to the frame centre / half diagonal)`); for side
   "left" / "right", 1 if it is the leftmost / rightmost of the major faces in the frame (at
   least `major_face` x the largest one's side), or, when it is the only major face, if it lies
   on that half of the frame; else 0. The target of frame t is the track with the largest sum
   of weights over frames t - window .. t + window (the previous target is kept unless another
   beats it by 25%). When the target track has no detection in frame t the frame has no face:
   a bystander is never taken for the frames in which the main face is missed.
3. Gap bridging. A run of at most `max_gap` frames without a face between two detected frames
   of the same track is filled by linear interpolation of box and landmarks (source 2).

A decision for frame t is final once frame t + window + max_gap + 1 has been pushed (or at
`finish`); `push` and `finish` return the decisions that became final, in frame order.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from affect.face.config import FacesConfig
from affect.face.detect import Detections

NONE, DETECTED, INTERPOLATED, PROVIDED = 0, 1, 2, 3  # values of `source`
SWITCH_MARGIN = 1.25  # another track must outscore the current target by this factor to take over


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


def _centre(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def _side_len(boxes: np.ndarray) -> np.ndarray:
    return np.sqrt(np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None))


@dataclass
class _Obs:
    """One frame's tracked detections: track id -> (box, landmarks, score), and target weights."""

    dets: dict[int, tuple[np.ndarray, np.ndarray, float]]
    weight: dict[int, float]


class FaceTracker:
    """Streaming target-face tracker for one clip. `push` one frame's detections at a time."""

    def __init__(self, cfg: FacesConfig, frame_size: tuple[int, int], side: str | None = None) -> None:
        self.cfg = cfg
        self.width, self.height = frame_size  # coordinates of the detections pushed
        self.side = normalize_side(side)
        self.window = max(0, int(cfg.track_window))
        self.max_gap = max(0, int(cfg.max_gap))
        self._pushed = 0  # frames pushed so far
        self._decided = 0  # frames whose target is chosen (step 2)
        self._next_id = 0
        self._tracks: dict[int, tuple[int, np.ndarray]] = {}  # id -> (last frame seen, last box)
        self._obs: deque[_Obs] = deque()  # frames _decided - window .. _pushed - 1
        self._obs_start = 0  # frame index of _obs[0]
        self._target = -1  # target track of the last decided frame
        self._last_found: Target | None = None  # last found frame before _pending (same run)
        self._pending: list[Target] = []  # not-found frames after _last_found, awaiting bridging

    # step 1: association
    def _associate(self, dets: Detections) -> dict[int, tuple[np.ndarray, np.ndarray, float]]:
        t = self._pushed
        alive = [(tid, box) for tid, (seen, box) in self._tracks.items() if t - seen <= self.window]
        self._tracks = {tid: self._tracks[tid] for tid, _ in alive}
        assigned: dict[int, int] = {}  # det index -> track id
        if alive and len(dets):
            tboxes = np.stack([b for _, b in alive])
            iou = box_iou(tboxes, dets.boxes)
            dist = np.linalg.norm(_centre(tboxes)[:, None] - _centre(dets.boxes)[None], axis=-1)
            near = dist <= self.cfg.track_dist * np.maximum(_side_len(tboxes), 1.0)[:, None]
            ok = (iou >= self.cfg.track_iou) | near
            # best pairs first: higher IoU, then smaller distance
            pairs = sorted(zip(*np.nonzero(ok)), key=lambda p: (-iou[p], dist[p]))
            used_t: set[int] = set()
            for ti, di in pairs:
                if ti in used_t or di in assigned:
                    continue
                used_t.add(ti)
                assigned[di] = alive[ti][0]
        out = {}
        for di in range(len(dets)):
            tid = assigned.get(di)
            if tid is None:
                tid, self._next_id = self._next_id, self._next_id + 1
            self._tracks[tid] = (t, dets.boxes[di])
            out[tid] = (dets.boxes[di], dets.landmarks[di], float(dets.scores[di]))
        return out

    def _weights(self, dets: dict[int, tuple[np.ndarray, np.ndarray, float]]) -> dict[int, float]:
        if not dets:
            return {}
        ids = list(dets)
        boxes = np.stack([dets[i][0] for i in ids]).astype(np.float64)
        sides = _side_len(boxes)
        centres = _centre(boxes)
        if self.side is None:
            half_diag = math.hypot(self.width, self.height) / 2
            d = np.linalg.norm(centres - [self.width / 2, self.height / 2], axis=-1) / half_diag
            w = sides / max(self.width, self.height) * (1 - 0.5 * np.clip(d, 0, 1))
            return dict(zip(ids, w.tolist()))
        major = np.nonzero(sides >= self.cfg.major_face * sides.max())[0]
        weights = dict.fromkeys(ids, 0.0)
        if len(major) == 1:
            on_side = centres[major[0], 0] < self.width / 2
            if on_side == (self.side == "left"):
                weights[ids[major[0]]] = 1.0
        else:
            xs = centres[major, 0]
            pick = major[np.argmin(xs) if self.side == "left" else np.argmax(xs)]
            weights[ids[pick]] = 1.0
        return weights

    # step 2: the target track of frame `self._decided`
    def _decide(self) -> Target:
        t = self._decided
        lo = max(self._obs_start, t - self.window)
        totals: dict[int, float] = {}
        for s in range(lo, min(self._pushed, t + self.window + 1)):
            for tid, w in self._obs[s - self._obs_start].weight.items():
                totals[tid] = totals.get(tid, 0.0) + w
        totals = {k: v for k, v in totals.items() if v > 0}
        target = -1
        if totals:
            target = max(totals, key=lambda k: totals[k])
            prev = totals.get(self._target, 0.0)
            if prev > 0 and prev * SWITCH_MARGIN >= totals[target]:
                target = self._target
        self._target = target
        obs = self._obs[t - self._obs_start]
        self._decided += 1
        while self._obs_start < self._decided - self.window:  # drop frames out of every window
            self._obs.popleft()
            self._obs_start += 1
        if target in obs.dets:
            box, lm, score = obs.dets[target]
            return Target(t, DETECTED, box.astype(np.float32), lm.astype(np.float32), score, target)
        return Target(t, NONE, track=target)

    # step 3: bridging short gaps
    def _bridge(self, cur: Target) -> list[Target]:
        out: list[Target] = []
        if not cur.found:
            if self._last_found is None:
                return [cur]
            self._pending.append(cur)
            if len(self._pending) > self.max_gap:
                out, self._pending, self._last_found = self._pending, [], None
            return out
        prev = self._last_found
        if self._pending and prev is not None and prev.track == cur.track:
            span = cur.frame - prev.frame
            for p in self._pending:
                a = (p.frame - prev.frame) / span
                p.source = INTERPOLATED
                p.track = cur.track
                p.box = ((1 - a) * prev.box + a * cur.box).astype(np.float32)
                p.landmarks = ((1 - a) * prev.landmarks + a * cur.landmarks).astype(np.float32)
        out, self._pending = self._pending + [cur], []
        self._last_found = cur
        return out

    def push(self, dets: Detections) -> list[Target]:
        """Add the next frame's detections; returns the decisions that became final."""
        if len(dets):
            dets = dets.select(dets.scores >= self.cfg.min_score)
        tracked = self._associate(dets)
        self._obs.append(_Obs(tracked, self._weights(tracked)))
        self._pushed += 1
        out: list[Target] = []
        while self._decided < self._pushed - self.window:
            out += self._bridge(self._decide())
        return out

    def finish(self) -> list[Target]:
        """Decide every remaining frame (end of the video)."""
        out: list[Target] = []
        while self._decided < self._pushed:
            out += self._bridge(self._decide())
        out += self._pending
        self._pending, self._last_found = [], None
        return out

    @property
    def pending(self) -> int:
        """Frames pushed but not yet returned."""
        return self._pushed - self._decided + len(self._pending)
