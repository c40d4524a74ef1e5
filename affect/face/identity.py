"""One identity per clip: which tracks are one person, which person is the subject.

Input: every detection of the clip linked into tracks (`affect.face.track.TrackRecords`).
A track ends when its face is missed for more than `track_window` frames, so one person
gives several tracks across cuts and absences. The choice, over the whole clip:

1. Persons. Tracks are joined into persons, closest pairs first, never two tracks that
   share a frame (one person is in one place at a time):
   - by appearance (backend "dlib"), when both tracks have descriptors: the distance of
     their mean descriptors, and of the two persons' mean descriptors once joined, is at
     most `reid_threshold`;
   - by geometry otherwise (backend "geometry", or a track too small or too short to have a
     descriptor): the later track starts where the earlier one was last seen (centre within
     `reid_dist` x face side, side ratio within `reid_size`), and neither track ends or
     starts at an abrupt change of look (a cut, see `affect.face.track`). This follows a
     person who leaves the picture or is missed and comes back in place; across a cut it
     cannot tell who is who, so it joins nobody: a subject who reappears after a cut is not
     followed (those frames are no face), and neither is whoever takes the subject's place.
2. The subject is the person with the largest summed weight over all frames (presence x
   size x centrality, or for `_left`/`_right` clips the frames where it is the face on that
   side; see `affect.face.track`). A runner-up within `AMBIGUOUS` of it is logged.
3. Per frame: the subject's detection when one of its tracks has one, else no face (never
   another person), with gaps of at most `max_gap` frames inside one track bridged by
   linear interpolation of box and landmarks (source 2).

Because the subject's tracks never share a frame and nothing else is ever taken, the
stage cannot switch to another face while the subject is detected.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from affect.face.config import FacesConfig
from affect.face.track import DETECTED, INTERPOLATED, Target, TrackRecords, box_centre, box_side

log = logging.getLogger(__name__)

AMBIGUOUS = 0.9  # a runner-up with at least this fraction of the subject's weight is reported


@dataclass
class Track:
    """One track of a clip, summarised."""

    id: int
    first: int  # first frame
    last: int  # last frame
    count: int  # detections
    weight: float
    first_box: np.ndarray
    last_box: np.ndarray
    descriptors: np.ndarray | None  # [k, D] appearance samples, or None
    ended_by_change: bool = False  # its face's look changed abruptly where it ended (a cut)
    started_by_change: bool = False


@dataclass
class Person:
    """Tracks judged to be one person."""

    tracks: list[Track]
    links: list[str] = field(default_factory=list)  # how the tracks were joined

    @property
    def weight(self) -> float:
        return float(sum(t.weight for t in self.tracks))

    @property
    def count(self) -> int:
        return sum(t.count for t in self.tracks)

    @property
    def first(self) -> int:
        return min(t.first for t in self.tracks)

    def descriptors(self) -> np.ndarray | None:
        d = [t.descriptors for t in self.tracks if t.descriptors is not None]
        return np.concatenate(d) if d else None

    def overlaps(self, other: "Person") -> bool:
        return any(a.first <= b.last and b.first <= a.last for a in self.tracks for b in other.tracks)

    def describe(self, frames: int) -> str:
        sides = [float(box_side(t.first_box)) for t in self.tracks]
        return (f"tracks {[t.id for t in self.tracks]}, detected in {self.count} of {frames} frames, "
                f"face ~{np.mean(sides):.0f} px, weight {self.weight:.2f}")


@dataclass
class Choice:
    """The subject of a clip and why."""

    subject: Person | None
    persons: list[Person]
    backend: str  # "dlib" | "geometry"
    ambiguous: bool
    reason: str  # one log line


def summarise(rec: TrackRecords) -> list[Track]:
    tracks = []
    for tid in np.unique(rec.track):
        rows = np.nonzero(rec.track == tid)[0]  # in frame order
        tracks.append(Track(int(tid), int(rec.frame[rows[0]]), int(rec.frame[rows[-1]]), len(rows),
                            float(rec.weight[rows].sum()), rec.box[rows[0]], rec.box[rows[-1]],
                            rec.descriptors.get(int(tid)), int(tid) in rec.ended_by_change,
                            int(tid) in rec.started_by_change))
    return tracks


def _geometry_cost(a: Track, b: Track, cfg: FacesConfig) -> float | None:
    """How far `b` (later) starts from where `a` was last seen, in units of the allowed distance
    (None: too far, too different in size, or the place changed hands at a cut)."""
    if a.ended_by_change or b.started_by_change:
        return None
    side_a, side_b = float(box_side(a.last_box)), float(box_side(b.first_box))
    if min(side_a, side_b) <= 0 or max(side_a, side_b) / min(side_a, side_b) > cfg.reid_size:
        return None
    dist = float(np.linalg.norm(box_centre(a.last_box) - box_centre(b.first_box)))
    cost = dist / (cfg.reid_dist * side_a)
    return cost if cost <= 1.0 else None


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.mean(axis=0) - b.mean(axis=0)))


def group_persons(tracks: list[Track], cfg: FacesConfig, appearance: bool) -> list[Person]:
    """Join tracks into persons (see the module docstring, step 1)."""
    candidates: list[tuple[int, float, int, int, str]] = []  # (kind, cost, i, j, how)
    for i, a in enumerate(tracks):
        for j, b in enumerate(tracks):
            if a.last >= b.first:  # b must start after a ends (this also keeps each pair once)
                continue
            if appearance and a.descriptors is not None and b.descriptors is not None:
                d = _mean_distance(a.descriptors, b.descriptors)
                if d <= cfg.reid_threshold:
                    candidates.append((0, d / cfg.reid_threshold, i, j, f"appearance {d:.2f}"))
            else:
                cost = _geometry_cost(a, b, cfg)
                if cost is not None:
                    candidates.append((1, cost, i, j, "geometry"))
    persons = [Person([t]) for t in tracks]
    owner = list(range(len(tracks)))  # track index -> person index
    for kind, _, i, j, how in sorted(candidates, key=lambda c: c[:2]):
        pa, pb = owner[i], owner[j]
        if pa == pb or persons[pa].overlaps(persons[pb]):
            continue
        if kind == 0:
            da, db = persons[pa].descriptors(), persons[pb].descriptors()
            if da is not None and db is not None and _mean_distance(da, db) > cfg.reid_threshold:
                continue
        persons[pa].tracks += persons[pb].tracks
        persons[pa].links += persons[pb].links + [f"{tracks[i].id}->{tracks[j].id} {how}"]
        persons[pb].tracks, persons[pb].links = [], []
        owner = [pa if o == pb else o for o in owner]
    return [p for p in persons if p.tracks]


def choose_subject(rec: TrackRecords, cfg: FacesConfig, appearance: bool) -> Choice:
    """The subject of the clip (see the module docstring); `appearance`: descriptors are usable."""
    backend = "dlib" if appearance else "geometry"
    persons = group_persons(summarise(rec), cfg, appearance)
    ranked = sorted(persons, key=lambda p: (p.weight, p.count, -p.first), reverse=True)
    ranked = [p for p in ranked if p.weight > 0]
    if not ranked:
        why = "no face found" if not persons else f"none of the {len(persons)} persons seen qualifies"
        return Choice(None, persons, backend, False, f"no subject: {why}")
    subject = ranked[0]
    reason = (f"subject: {subject.describe(rec.frames)}; {len(persons)} person(s) from "
              f"{sum(len(p.tracks) for p in persons)} track(s), re-identification by {backend}")
    if subject.links:
        reason += f" (joined: {', '.join(subject.links)})"
    ambiguous = len(ranked) > 1 and ranked[1].weight >= AMBIGUOUS * subject.weight
    if len(ranked) > 1:
        reason += f"; runner-up: {ranked[1].describe(rec.frames)}"
    if ambiguous:
        reason += ("; two nearly equally likely subjects: took the one with the larger weight"
                   " (then more frames, then seen first)")
    return Choice(subject, persons, backend, ambiguous, reason)


def subject_targets(rec: TrackRecords, choice: Choice, max_gap: int) -> list[Target]:
    """One `Target` per frame of the clip: the subject's detection, bridged gaps, or no face."""
    out = [Target(f) for f in range(rec.frames)]
    if choice.subject is None:
        return out
    ids = np.array([t.id for t in choice.subject.tracks])
    rows = np.nonzero(np.isin(rec.track, ids))[0]
    prev = None
    for r in rows:
        f, tid = int(rec.frame[r]), int(rec.track[r])
        out[f] = Target(f, DETECTED, rec.box[r], rec.landmarks[r], float(rec.score[r]), tid)
        if prev is not None and out[prev].track == tid and 1 < f - prev <= max_gap + 1:
            a_box, b_box = out[prev].box, out[f].box
            a_lm, b_lm = out[prev].landmarks, out[f].landmarks
            for g in range(prev + 1, f):
                a = (g - prev) / (f - prev)
                out[g] = Target(g, INTERPOLATED, ((1 - a) * a_box + a * b_box).astype(np.float32),
                                ((1 - a) * a_lm + a * b_lm).astype(np.float32), float("nan"), tid)
        prev = f
    return out
