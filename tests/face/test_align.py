import numpy as np
import pytest

from affect.face.align import Aligner, apply_transform, face_template, similarity_transform, warp_face


def test_template_is_level_and_symmetric():
    t = face_template(224, 0.75)
    assert t[0, 1] == pytest.approx(t[1, 1]) and t[3, 1] == pytest.approx(t[4, 1])  # eyes, mouth level
    centre = (224 - 1) / 2
    assert (t[0, 0] + t[1, 0]) / 2 == pytest.approx(centre) and t[2, 0] == pytest.approx(centre)
    # more context than the tight template: the 5 points span less of the crop
    tight = face_template(224, 1.0)
    assert np.ptp(t[:, 1]) == pytest.approx(0.75 * np.ptp(tight[:, 1]))
    assert 0.35 < t[0, 1] / 224 < 0.55 and t[3, 1] / 224 < 0.8


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 300, (3, 5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -40.0])
    r = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src[1] @ r.T + shift
    m = similarity_transform(src, dst)  # batched: only item 1 is exact
    assert m.shape == (3, 2, 3)
    np.testing.assert_allclose(m[1, :, :2], r, atol=1e-9)
    np.testing.assert_allclose(m[1, :, 2], shift, atol=1e-7)
    np.testing.assert_allclose(apply_transform(m[1], src[1]), dst, atol=1e-7)


def test_similarity_is_nan_for_degenerate_points():
    m = similarity_transform(np.ones((5, 2)), face_template(112))
    assert np.isnan(m).all()
    with pytest.raises(ValueError):
        warp_face(np.zeros((10, 10, 3), np.uint8), m, 8)


def test_warp_pixel_convention_matches_slicing():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    m = np.array([[1.0, 0.0, -13.0], [0.0, 1.0, -7.0]])  # crop pixel (0, 0) = frame pixel (13, 7)
    np.testing.assert_array_equal(warp_face(img, m, 32), img[7:39, 13:45])


def test_warp_outside_frame_is_black_and_shrinking_is_smooth():
    img = np.full((400, 400, 3), 200, np.uint8)
    m = np.array([[0.25, 0.0, -0.375], [0.0, 0.25, -0.375]])  # the whole frame, 4x smaller: box-filtered first
    out = warp_face(img, m, 100)
    assert (out == 200).all()
    shifted = warp_face(img, np.array([[1.0, 0.0, 50.0], [0.0, 1.0, 0.0]]), 100)
    assert (shifted[:, :49] == 0).all() and (shifted[:, 51:] == 200).all()
    img[:, ::2] = 0  # 1-pixel stripes average out instead of aliasing
    assert np.abs(warp_face(img, m, 100).astype(int) - 100).max() <= 1


def test_aligned_astronaut_has_eyes_at_template(astro, detector):
    det = detector.detect(astro)[0]
    assert len(det) == 1
    aligner = Aligner(224, 0.75)
    crops, m = aligner([astro], det.landmarks)
    assert crops.shape == (1, 224, 224, 3) and crops.dtype == np.uint8
    # the least-squares fit puts the eyes near their template positions, level ...
    mapped = apply_transform(m[0], det.landmarks[0])
    np.testing.assert_allclose(mapped[:2], aligner.template[:2], atol=4)
    assert abs(mapped[0, 1] - mapped[1, 1]) < 1.5
    assert np.abs(mapped - aligner.template).max() < 10  # a smiling mouth is wider than the template's
    # ... and MTCNN run again on the crop finds the eyes there
    again = detector.detect(crops[0])[0]
    assert len(again) >= 1
    eyes = again.landmarks[np.argmax(again.scores), :2]
    np.testing.assert_allclose(eyes, aligner.template[:2], atol=4)
