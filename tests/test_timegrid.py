"""affect.timegrid: the grid convention and resampling onto and off it."""

import numpy as np
import pytest

from affect.timegrid import (
    Grid,
    frame_times,
    frames_to_grid,
    grid_to_frames,
    interpolate,
    num_frames,
    pool,
    to_grid,
)


@pytest.mark.parametrize(
    "duration, hop, steps",
    [(10.0, 0.25, 40), (1.1, 0.1, 11), (0.7, 0.1, 7), (0.3, 0.1, 3), (0.31, 0.1, 4),
     (0.0, 0.25, 0), (0.01, 0.25, 1), (10.0001, 0.25, 41)],
)
def test_num_steps_exact_at_float_edges(duration, hop, steps):
    assert Grid(hop).num_steps(duration) == steps


@pytest.mark.parametrize("fps", [25.0, 30.0, 30000 / 1001, 24000 / 1001, 29.97, 7.0])
def test_num_frames_round_trips(fps):
    for n in (1, 7, 299, 1000, 12345):
        assert num_frames(n / fps, fps) == n
        assert Grid.for_video(fps).num_steps(n / fps) == n


def test_grid_times_and_index():
    g = Grid(0.25)
    np.testing.assert_allclose(g.times(4), [0.125, 0.375, 0.625, 0.875])
    # boundaries belong to the later step, even through float error (0.7/0.1 = 6.999...)
    np.testing.assert_array_equal(Grid(0.1).index([0.0, 0.05, 0.1, 0.3, 0.7, 0.6999]), [0, 0, 1, 3, 7, 6])
    np.testing.assert_allclose(frame_times(3, 10.0), [0.05, 0.15, 0.25])


def test_grid_rejects_bad_hop():
    for hop in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            Grid(hop)


def _source(rate, duration, d=3):
    n = int(round(duration * rate))
    return (np.arange(n) + 0.5) / rate


@pytest.mark.parametrize("rate, hop", [(50.0, 0.25), (40.0, 0.25), (4.0, 1 / 30), (30.0, 1 / 30), (25.0, 0.04)])
def test_constant_stays_constant(rate, hop):
    g = Grid(hop)
    t = _source(rate, 6.0)
    v = np.tile(np.array([0.3, -0.7, 1e-3]), (t.size, 1))
    n = g.num_steps(6.0)
    for fn in (pool, interpolate, to_grid):
        out, ok = fn(v, t, None, g, n)
        assert out.dtype == np.float32 and out.shape == (n, 3)
        np.testing.assert_array_equal(out, np.tile(v[0].astype(np.float32), (n, 1)))
    frames = grid_to_frames(np.tile(v[0], (n, 1)), g, 150, 25.0)
    np.testing.assert_array_equal(frames, np.tile(v[0].astype(np.float32), (150, 1)))


def test_pool_of_symmetric_ramp_is_ramp_at_centre():
    g = Grid(0.25)
    t = _source(40.0, 5.0)  # 10 samples per step, symmetric about each centre
    v = np.stack([2.0 * t - 1.0, -t], axis=1)
    out, ok = pool(v, t, None, g, 20)
    c = g.times(20)
    assert ok.all()
    np.testing.assert_allclose(out, np.stack([2.0 * c - 1.0, -c], axis=1), rtol=1e-6, atol=1e-6)


def test_interpolate_ramp_is_exact_and_edges_held():
    g = Grid(1 / 30)
    t = _source(4.0, 5.0)  # 0.125 .. 4.875
    v = 3.0 * t - 2.0
    out, ok = interpolate(v, t, None, g, 150)
    c = g.times(150)
    inside = (c >= t[0]) & (c <= t[-1])
    assert out.shape == (150,) and out.dtype == np.float32
    np.testing.assert_allclose(out[inside], 3.0 * c[inside] - 2.0, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[c < t[0]], v[0], rtol=1e-6)
    np.testing.assert_allclose(out[c > t[-1]], v[-1], rtol=1e-6)
    assert ok.all()  # every step lies in the interval some 4 Hz sample covers


def test_grid_to_frames_ramp():
    g = Grid(0.25)
    c = g.times(40)
    frames = grid_to_frames(np.stack([c, 1 - c], axis=1), g, 300, 30.0)
    ft = frame_times(300, 30.0)
    inside = (ft >= c[0]) & (ft <= c[-1])
    np.testing.assert_allclose(frames[inside], np.stack([ft, 1 - ft], axis=1)[inside], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(frames[ft < c[0], 0], c[0], rtol=1e-6)
    np.testing.assert_allclose(frames[ft > c[-1], 0], c[-1], rtol=1e-6)


def test_grid_to_frames_covers_every_frame():
    g = Grid(0.25)
    v = np.random.default_rng(0).uniform(-1, 1, (37, 2))
    for n_frames in (1, 270, 280, 400):  # fewer, equal and more frames than the grid spans
        out = grid_to_frames(v, g, n_frames, 29.97)
        assert out.shape == (n_frames, 2) and np.isfinite(out).all()


@pytest.mark.parametrize("fps", [30.0, 25.0, 30000 / 1001])
def test_frame_rate_grid_round_trip_is_identity(fps):
    g = Grid.for_video(fps)
    n = 1234
    v = np.random.default_rng(1).uniform(-1, 1, (n, 2)).astype(np.float32)
    on_grid, ok = frames_to_grid(v, fps, g, g.num_steps(n / fps))
    assert on_grid.shape == (n, 2) and ok.all()
    np.testing.assert_array_equal(on_grid, v)
    np.testing.assert_array_equal(grid_to_frames(on_grid, g, n, fps), v)
    np.testing.assert_array_equal(g.index(frame_times(n, fps)), np.arange(n))
    np.testing.assert_allclose(g.times(n), frame_times(n, fps), rtol=1e-12)


def test_pool_excludes_masked_and_nonfinite_samples():
    g = Grid(0.25)
    t = _source(40.0, 1.0)  # 40 samples, steps 0..3
    v = np.ones((40, 2))
    v[:5] = 100.0  # masked out below
    v[12] = np.nan  # a NaN sample is invalid too
    mask = np.ones(40, dtype=bool)
    mask[:5] = False
    mask[20:30] = False  # step 2 fully masked
    out, ok = pool(v, t, mask, g, 4)
    np.testing.assert_array_equal(ok, [True, True, False, True])
    np.testing.assert_array_equal(out, np.ones((4, 2), dtype=np.float32))


def test_masked_steps_filled_by_interpolation_never_nan():
    g = Grid(0.25)
    t = _source(40.0, 2.0)
    v = np.repeat(np.arange(8.0), 10)[:, None]  # step k holds value k
    mask = np.ones(80, dtype=bool)
    mask[20:40] = False  # steps 2, 3
    mask[70:] = False  # step 7
    out, ok = pool(v, t, mask, g, 10)  # steps 8, 9 have no samples at all
    np.testing.assert_array_equal(ok, [1, 1, 0, 0, 1, 1, 1, 0, 0, 0])
    np.testing.assert_allclose(out[:, 0], [0, 1, 2, 3, 4, 5, 6, 6, 6, 6])
    out, ok = pool(v, t, np.zeros(80, dtype=bool), g, 10)
    assert not ok.any() and (out == 0).all()


def test_interpolate_masks_steps_far_from_valid_samples():
    g = Grid(1 / 30)
    t = _source(4.0, 3.0)  # sample j covers [0.25 j, 0.25 (j+1))
    v = np.arange(12.0)
    mask = np.ones(12, dtype=bool)
    mask[5] = False  # the interval [1.25, 1.5) has no valid sample
    out, ok = interpolate(v, t, mask, g, 90)
    c = g.times(90)
    np.testing.assert_array_equal(ok, ~((c > 1.25 + 1e-9) & (c < 1.5 - 1e-9)))
    assert np.isfinite(out).all()
    gap = ~ok
    np.testing.assert_allclose(out[gap], (c[gap] - 0.125) * 4, rtol=1e-6)  # lerp across the gap


def test_to_grid_picks_pool_or_interpolate():
    g = Grid(0.25)
    dense = _source(50.0, 4.0)
    v = np.random.default_rng(2).normal(size=(dense.size, 4))
    np.testing.assert_array_equal(to_grid(v, dense, None, g, 16)[0], pool(v, dense, None, g, 16)[0])
    fine = Grid(1 / 30)
    sparse = _source(4.0, 4.0)
    w = v[: sparse.size]
    np.testing.assert_array_equal(to_grid(w, sparse, None, fine, 120)[0], interpolate(w, sparse, None, fine, 120)[0])


def test_pool_unsorted_and_out_of_range_times():
    g = Grid(0.5)
    t = np.array([0.7, 0.1, -0.2, 0.2, 5.0, 0.9])
    v = np.array([3.0, 1.0, 99.0, 2.0, 99.0, 5.0])
    out, ok = pool(v, t, None, g, 2)
    np.testing.assert_allclose(out, [1.5, 4.0])
    assert ok.all()


def test_float16_features():
    g = Grid(0.25)
    t = _source(50.0, 2.0)  # 12 or 13 samples per step
    v = np.random.default_rng(3).normal(size=(t.size, 8)).astype(np.float16)
    out, ok = to_grid(v, t, None, g, 8)
    assert out.dtype == np.float32 and ok.all()
    k = np.floor(t / 0.25 + 1e-9).astype(int)
    ref = np.stack([v[k == s].astype(np.float64).mean(axis=0) for s in range(8)])
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)


def test_frame_centres_follow_real_times_and_the_frame_count():
    from affect.timegrid import frame_centres

    starts = np.array([0.0, 0.04, 0.08, 0.2, 0.4])  # 25 fps, then slower
    np.testing.assert_allclose(frame_centres(starts, 10.0, 5), [0.02, 0.06, 0.14, 0.3, 0.45])
    np.testing.assert_allclose(frame_centres(starts, 10.0, 3), [0.02, 0.06, 0.14])  # fewer label lines than frames
    np.testing.assert_allclose(frame_centres(starts, 10.0, 7)[4:], [0.45, 0.55, 0.65])  # more: 1 / fps each
    np.testing.assert_allclose(frame_centres(np.arange(6) / 25, 25.0, 6), frame_times(6, 25.0))
