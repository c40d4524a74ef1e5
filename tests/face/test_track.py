import math

import numpy as np
import pytest

from affect.face.config import FacesConfig
from affect.face.detect import Detections
from affect.face.identity import choose_subject, subject_targets
from affect.face.track import DETECTED, INTERPOLATED, NONE, FaceTracker, normalize_side

W, H = 320, 240


def face(cx: float, cy: float, side: float, score: float = 0.99) -> tuple:
    box = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)
    lm = np.array([[cx - side / 5, cy - side / 6], [cx + side / 5, cy - side / 6], [cx, cy],
                   [cx - side / 6, cy + side / 5], [cx + side / 6, cy + side / 5]], np.float32)
    return box, lm, score


def dets(*faces) -> Detections:
    if not faces:
        return Detections.empty()
    return Detections(np.stack([f[0] for f in faces]), np.array([f[2] for f in faces], np.float32),
                      np.stack([f[1] for f in faces]))


def run(frames: list[Detections], side=None, **kw):
    """Track (boxes only), choose the subject over the whole clip by geometry."""
    cfg = FacesConfig(**kw)
    tracker = FaceTracker(cfg, (W, H), side)
    for d in frames:
        tracker.push(d)
    records = tracker.records()
    choice = choose_subject(records, cfg, appearance=False)
    out = subject_targets(records, choice, cfg.max_gap)
    assert [t.frame for t in out] == list(range(len(frames)))  # every frame once, in order
    return out


def test_main_face_kept_when_missed_and_a_bystander_is_present():
    frames = []
    for i in range(60):
        main = face(160 + i * 0.5, 120, 80)
        bystander = face(40, 40, 30)
        if 20 <= i < 23:  # main face missed for 3 frames, bystander still there
            frames.append(dets(bystander))
        elif 40 <= i < 50:  # main face missed for 10 frames
            frames.append(dets(bystander))
        else:
            frames.append(dets(bystander, main))
    out = run(frames)
    src = np.array([t.source for t in out])
    assert (src[20:23] == INTERPOLATED).all()
    assert (src[40:50] == NONE).all()  # longer than max_gap: no face, and never the bystander
    found = [t for t in out if t.found]
    assert all(t.box[2] - t.box[0] > 60 for t in found)
    assert len({t.track for t in found}) == 1
    mid = out[21]  # interpolated halfway between frames 19 and 23
    np.testing.assert_allclose(mid.box, (out[19].box + out[23].box) / 2, atol=1e-4)
    assert math.isnan(mid.score)


def test_main_face_prefers_large_central_face_and_low_scores_are_ignored():
    frames = [dets(face(50, 50, 40), face(170, 130, 70), face(290, 200, 90, score=0.5)) for _ in range(10)]
    out = run(frames)
    assert all(t.source == DETECTED and abs(t.box[0] - 135) < 1 for t in out)


def test_sides_pick_the_person_on_that_side():
    frames = []
    for i in range(40):
        left, right = face(80 + (i % 5), 110, 70), face(240 - (i % 3), 115, 72)
        if i in (10, 11):
            frames.append(dets(right))  # the left person is missed
        elif i == 30:
            frames.append(dets(left))
        else:
            frames.append(dets(right, left))  # detection order must not matter
    for side, lo, hi in (("left", 0, W / 2), ("right", W / 2, W)):
        out = run(frames, side=side)
        assert all(t.found for t in out)
        assert all(lo < (t.box[0] + t.box[2]) / 2 < hi for t in out)
        bridged = [10, 11] if side == "left" else [30]
        assert [t.frame for t in out if t.source == INTERPOLATED] == bridged


def test_long_absence_then_another_face_elsewhere_is_not_the_subject_by_geometry():
    frames = [dets(face(100, 120, 80))] * 10 + [dets()] * 30 + [dets(face(220, 100, 60))] * 10
    out = run(frames)
    src = np.array([t.source for t in out])
    assert (src[:10] == DETECTED).all() and (src[10:] == NONE).all()
    # ... unless it comes back where the subject was last seen
    frames = [dets(face(100, 120, 80))] * 10 + [dets()] * 30 + [dets(face(110, 115, 70))] * 10
    out = run(frames)
    src = np.array([t.source for t in out])
    assert (src[:10] == DETECTED).all() and (src[10:40] == NONE).all() and (src[40:] == DETECTED).all()
    assert out[0].track != out[45].track  # two tracks, one person


def test_no_bridging_at_the_ends_or_across_tracks():
    a, b = dets(face(60, 120, 60)), dets(face(260, 120, 60))
    frames = [dets()] * 2 + [a] * 20 + [dets()] * 2 + [b] * 20 + [dets()] * 2
    out = run(frames, track_window=3)
    src = np.array([t.source for t in out])
    assert (src[:2] == NONE).all() and (src[-2:] == NONE).all()
    assert (src[22:24] == NONE).all()  # the two sides of the gap are different faces


def test_normalize_side():
    assert normalize_side(None) is None and normalize_side("") is None and normalize_side(float("nan")) is None
    assert normalize_side("_left") == "left" and normalize_side("Right") == "right"
    with pytest.raises(ValueError):
        normalize_side("middle")


def test_two_equally_likely_subjects_are_reported():
    frames = [dets(face(80, 120, 60), face(240, 120, 60)) for _ in range(10)]
    cfg = FacesConfig()
    tracker = FaceTracker(cfg, (W, H))
    for d in frames:
        tracker.push(d)
    choice = choose_subject(tracker.records(), cfg, appearance=False)
    assert choice.ambiguous and "nearly equally likely" in choice.reason and len(choice.persons) == 2
    out = subject_targets(tracker.records(), choice, cfg.max_gap)
    assert len({t.track for t in out}) == 1  # still one of them for the whole clip, never both


def test_appearance_joins_tracks_across_a_cut_and_keeps_others_apart():
    """Fake descriptors: the person's identity is painted into the image as a grey level."""
    people = {"subject": 60, "bystander": 200}

    def frame(*faces_at):
        img = np.zeros((H, W, 3), np.uint8)
        boxes = []
        for who, cx in faces_at:
            f = face(cx, 120, 70)
            x1, y1, x2, y2 = f[0].astype(int)
            img[y1:y2, x1:x2] = people[who]
            img[y1 + 10:y1 + 20, x1 + 10:x1 + 30] = 255 - people[who]  # some texture for the thumbnails
            boxes.append(f)
        return img, dets(*boxes)

    def embed(image, boxes):  # subject 0.24, bystander 0.78 along one axis: 0.55 apart (> 0.5)
        level = np.array([image[int(b[1]) + 40, int(b[0]) + 5, 0] for b in boxes], np.float32)
        return np.stack([np.eye(128)[0] * (lv / 255.0) for lv in level])

    scenes = [frame(("subject", 90))] * 12 + [frame(("bystander", 90), ("subject", 240))] * 8
    cfg = FacesConfig(reid_every=5)
    tracker = FaceTracker(cfg, (W, H))
    for img, d in scenes:
        tracker.push(d, img, embed=embed)
    rec = tracker.records()
    assert rec.ended_by_change and rec.started_by_change  # the look at x=90 changed at the cut
    choice = choose_subject(rec, cfg, appearance=True)
    out = subject_targets(rec, choice, cfg.max_gap)
    cx = np.array([(t.box[0] + t.box[2]) / 2 for t in out])
    assert (cx[:12] < 160).all() and (cx[12:] > 160).all() and len(choice.subject.tracks) == 2
    assert any("appearance" in link for link in choice.subject.links)
