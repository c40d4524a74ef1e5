import numpy as np
import pytest

from affect.face.detect import Detections


def test_astronaut_face_is_found(astro, detector):
    (det,) = detector.detect(astro)
    assert len(det) == 1
    assert det.boxes.dtype == np.float32 and det.boxes.shape == (1, 4)
    assert det.scores.shape == (1,) and det.scores[0] > 0.99
    assert det.landmarks.shape == (1, 5, 2)
    np.testing.assert_allclose(det.boxes[0], [181, 62, 268, 172], atol=6)
    eyes = det.landmarks[0, :2]
    assert eyes[0, 0] < eyes[1, 0]  # left eye = image left


def test_batch_with_faceless_frames(astro, detector):
    blank = np.full_like(astro, 128)
    dets = detector.detect(np.stack([blank, astro, blank]))
    assert [len(d) for d in dets] == [0, 1, 0]
    for d in dets:
        assert d.boxes.shape[1:] == (4,) and d.landmarks.shape[1:] == (5, 2) and d.scores.ndim == 1
    assert detector.detect(np.zeros((0, 8, 8, 3), np.uint8)) == []
    with pytest.raises(ValueError):
        detector.detect(np.zeros((2, 8, 8), np.uint8))


def test_detections_scaled_to_original_pixels():
    d = Detections(np.array([[10, 20, 30, 40]], np.float32), np.array([0.9], np.float32),
                   np.full((1, 5, 2), [5.0, 8.0], np.float32))
    s = d.scaled(0.5, 0.25)
    np.testing.assert_allclose(s.boxes, [[20, 80, 60, 160]])
    np.testing.assert_allclose(s.landmarks[0, 0], [10, 32])
