"""The synthetic face's shape carries the cues: mouth corners follow valence, brows/eyes arousal,
where dlib's 68-point model (the `landmarks68` backbone) can see them."""
from __future__ import annotations

import json

import av
import numpy as np
import pytest
from PIL import Image

from affect.synth.face_render import (CORNER_PX, HEAD_COLS, HEAD_ROWS, LANDMARKS_XY, _photo_head, face_shape,
                                      make_face)


def test_sprite_landmarks_are_dlibs():
    """LANDMARKS_XY are where dlib's 68-point model puts the points on the photograph."""
    dlib = pytest.importorskip("dlib")
    from skimage.data import astronaut

    from affect.backbones.dlib_models import model_path

    image = astronaut()
    box = max(dlib.get_frontal_face_detector()(image, 1), key=lambda r: r.area())
    shape = dlib.shape_predictor(str(model_path("shape_predictor_68")))(image, box)
    p = np.array([(q.x, q.y) for q in shape.parts()], np.float64)
    found = {"mouth_corners": (p[48], p[54]), "brows": (p[17:22].mean(0), p[22:27].mean(0)),
             "eyes": (p[36:42].mean(0), p[42:48].mean(0))}
    for name, points in LANDMARKS_XY.items():
        np.testing.assert_allclose(np.array(points), np.array(found[name]), atol=0.5, err_msg=name)
        for x, y in points:  # inside the head cut out of the photograph
            assert HEAD_COLS[0] < x < HEAD_COLS[1] and HEAD_ROWS[0] < y < HEAD_ROWS[1]


def test_warp_moves_the_corners_and_leaves_the_rest():
    face = make_face()
    np.testing.assert_array_equal(face_shape(face, 0.0, 0.0), _photo_head())
    rows, cols = face.patch
    (lx, ly), (rx, ry) = [(x - HEAD_COLS[0], y - HEAD_ROWS[0]) for x, y in LANDMARKS_XY["mouth_corners"]]
    for x, y in ((lx, ly), (rx, ry)):  # per unit of valence: the corner goes up by CORNER_PX
        assert face.fields[0, 1, int(round(y)) - rows.start, int(round(x)) - cols.start] == pytest.approx(
            -CORNER_PX, rel=0.05)
    for x, y in face.eyes:  # the eye centres (what the aligners use) hardly move
        assert np.abs(face.fields[:, :, int(round(y)) - rows.start, int(round(x)) - cols.start]).max() < 0.15
    smile, frown = face_shape(face, 1.0, 0.0), face_shape(face, -1.0, 0.0)
    changed = np.abs(smile - frown).max(axis=2) > 1.0
    assert changed[int(ly) - 4:int(ly) + 5, int(lx) - 4:int(lx) + 5].any()
    assert not changed[:rows.start].any() and not changed[rows.stop:].any()  # hair, chin, collar: unchanged
    mirrored = make_face(flip=True)  # the second person (mirrored): the corners are mirrored too
    w = face.size[0]
    rows, cols = mirrored.patch
    for x, y in ((lx, ly), (rx, ry)):
        x = w - 1 - x
        assert mirrored.fields[0, 1, int(round(y)) - rows.start, int(round(x)) - cols.start] == pytest.approx(
            -CORNER_PX, rel=0.05)


def test_corner_lift_follows_valence(corpus, mtcnn):
    """landmarks68's corner lift (mean of left and right) on stage-01-style crops (MTCNN's 5 points,
    affect.face's 224 px template) follows the latent valence: r = 0.83 measured on the frames tested
    (every 3rd frame of the single-person clips of the session corpus, 108 crops); brow raise
    follows arousal (r = 0.69)."""
    pytest.importorskip("dlib")
    from affect.backbones.landmarks import GEOMETRY, Landmarks68
    from affect.face.align import Aligner

    root, record = corpus
    aligner, model = Aligner(224, 0.75), Landmarks68()
    lift, brow, valence, arousal = [], [], [], []
    col = {name: k for k, name in enumerate(GEOMETRY, start=136)}
    for c in record["clips"]:
        if c["side"]:
            continue
        latent = np.loadtxt(root / "latent" / f"{c['clip']}.csv", delimiter=",", skiprows=1, ndmin=2)
        with av.open(str(root / "videos" / f"{c['video']}.mp4")) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i % 3:
                    continue
                image = frame.to_ndarray(format="rgb24")
                boxes, _, points = mtcnn.detect(Image.fromarray(image), landmarks=True)
                if boxes is None:
                    continue
                crops, _ = aligner([image], points[:1].astype(np.float64))
                g = model.forward(crops)[0]
                if np.isnan(g).any():
                    continue
                lift.append((g[col["corner_lift_left"]] + g[col["corner_lift_right"]]) / 2)
                brow.append((g[col["brow_raise_left"]] + g[col["brow_raise_right"]]) / 2)
                valence.append(latent[i, 0])
                arousal.append(latent[i, 1])
    assert len(lift) >= 60
    r = np.corrcoef(lift, valence)[0, 1]
    assert r > 0.6, r
    assert np.corrcoef(brow, arousal)[0, 1] > 0.3
    assert json.loads((root / "synth_record.json").read_text())["cue_noise"]["shape_valence"] > 0
