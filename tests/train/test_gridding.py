"""Stage 05's maths: labels per dimension, series and sub-steps onto the grid, coverage checks, storage."""
import numpy as np
import pytest

from affect.cache.series import Series
from affect.timegrid import Grid
from affect.train.aligned import load_clip
from affect.train.gridding import align_labels, align_series, check_coverage, clip_grid, substeps_for


def test_label_mask_is_per_dimension():
    labels = np.tile(np.array([[0.5, -0.2]], np.float32), (30, 1))  # 30 frames at 30 fps = 1 s
    labels[:15, 1] = np.nan  # arousal invalid in the first half second, valence valid
    grid, steps = clip_grid(0.25, 30.0, 30)
    y = align_labels(labels, 30.0, grid, steps)
    assert steps == 4
    np.testing.assert_allclose(y[:, 0], 0.5)
    assert np.isnan(y[:1, 1]).all() and np.allclose(y[2:, 1], -0.2)
    grid, steps = clip_grid(0, 30.0, 30)  # frame-rate grid: identity
    np.testing.assert_array_equal(align_labels(labels, 30.0, grid, steps), labels)


def test_speech_series_pooled_with_sub_steps_and_activity():
    t = (np.arange(100) + 0.5) / 50  # 2 s at 50 Hz
    values = np.stack([t, -t], 1)
    mask = np.ones(100, bool)
    mask[:10] = False  # first 0.2 s invalid
    grid = Grid(0.25)
    k = substeps_for(50, grid)
    assert k == 12 and substeps_for(4, grid) == 0
    activity = np.ones(8, bool)
    activity[7] = False  # silence in the last step
    f = align_series(Series(values, t, mask, 50.0), grid, 8, k, activity)
    assert f.values.shape == (8, 2) and f.sub_values.shape == (96, 2)
    assert f.mask.tolist() == [True] * 7 + [False]
    np.testing.assert_allclose(f.values[3, 0], t[(t >= 0.75) & (t < 1.0)].mean(), rtol=1e-5)
    assert not f.sub_mask[84:].any() and not f.sub_mask[:9].any() and f.sub_mask[12:84].all()


def test_coverage_errors_name_clip_and_feature():
    s = Series(np.zeros((10, 2)), (np.arange(10) + 0.5) * 2.0, np.ones(10, bool))  # 20 s of rows
    with pytest.raises(ValueError, match="clip 'c1', feature set 'f'.*lasts 5.00 s"):
        check_coverage(s, 5.0, "c1", "f")
    bad = Series(np.full((10, 2), np.nan), (np.arange(10) + 0.5) * 0.5, np.ones(10, bool))
    with pytest.raises(ValueError, match="NaN"):
        check_coverage(bad, 5.0, "c1", "f")


def test_no_rows_masks_a_clip_shorter_than_the_window_and_fails_a_long_one():
    none = Series(np.zeros((0, 2)), np.zeros(0), np.zeros(0, bool))
    assert check_coverage(none, 0.04, "c1", "f") is False  # one frame: eGeMAPS frames nothing
    assert check_coverage(Series(np.zeros((3, 2)), np.arange(3) * 0.5, np.ones(3, bool)), 1.0, "c1", "f") is True
    with pytest.raises(ValueError, match="clip 'c1', feature set 'f': no rows for a clip of 5.00 s"):
        check_coverage(none, 5.0, "c1", "f")


def test_load_clip_memory_maps(aligned):
    c = load_clip(aligned, "c00")
    assert isinstance(c.features["face"].values, np.memmap) and c.labels.shape == (96, 2)
    assert c.features["voice"].substeps == 4 and c.features["face"].substeps == 0
    np.testing.assert_allclose(c.times[:2], [0.125, 0.375])
    with pytest.raises(ValueError, match="unknown feature set.*'x'.*available: face, voice, noise"):
        load_clip(aligned, "c00", ["x"])
