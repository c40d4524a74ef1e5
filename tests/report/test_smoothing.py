"""Temporal smoothing: the filters, and the window chosen from the labels it is given only."""
import numpy as np
import pytest

from affect.report.smoothing import Smoothing, choose, held_out, smooth_series, window_frames


@pytest.mark.parametrize("seconds,fps,frames", [(0, 25, 1), (0.04, 25, 1), (0.2, 25, 5), (1.0, 25, 25), (0.5, 30, 15),
                                                (1.0, 30, 31)])
def test_window_is_an_odd_number_of_frames(seconds, fps, frames):
    assert window_frames(seconds, fps) == frames


def naive(values, window, reduce):
    half = window // 2
    return np.array([reduce(values[max(0, i - half): i + half + 1], axis=0) for i in range(len(values))])


@pytest.mark.parametrize("kind,reduce", [("mean", np.mean), ("median", np.median)])
def test_centred_filters_shrink_at_the_ends(kind, reduce):
    x = np.random.default_rng(0).normal(size=(40, 2))
    for window in (1, 3, 7, 41, 99):
        np.testing.assert_allclose(smooth_series(x, window, kind), naive(x, window, reduce), atol=1e-5)
    np.testing.assert_allclose(smooth_series(x[:, 0], 5, kind), naive(x[:, 0], 5, reduce), atol=1e-5)


def world(seed, clips=3, n=200, fps=25.0, noise=0.4):
    rng = np.random.default_rng(seed)
    t = (np.arange(n) + 0.5) / fps
    labels = {f"c{i}": np.stack([np.sin(t + i), np.cos(0.7 * t + i)], 1).astype(np.float32) for i in range(clips)}
    preds = {c: (y + noise * rng.normal(size=y.shape)).astype(np.float32) for c, y in labels.items()}
    return preds, labels, {c: fps for c in labels}


def test_noisy_predictions_get_a_window_and_the_choice_is_recorded(tmp_path):
    preds, labels, fps = world(0)
    s = choose(preds, labels, fps, [0.2, 0.5, 1.0, 2.0], "mean", what="validation")
    assert all(w > 0 for w in s.window_s.values())
    assert s.chosen_on == "validation (3 clips)" and [r["window_s"] for r in s.scores] == [0, 0.2, 0.5, 1.0, 2.0]
    best = {d: max(s.scores, key=lambda r: r[f"ccc_{d}"])["window_s"] for d in ("valence", "arousal")}
    assert best == s.window_s
    s.save(tmp_path / "s.json")
    assert Smoothing.load(tmp_path / "s.json") == s
    smoothed = s.apply(preds["c0"], 25.0)
    assert smoothed.shape == preds["c0"].shape and np.abs(smoothed).max() <= 1.0


def test_exact_predictions_keep_no_smoothing_and_unlabelled_clips_are_ignored():
    preds, labels, fps = world(1, noise=0.0)
    preds["test_clip"] = np.zeros((50, 2), np.float32)  # predicted, not labelled: never looked at
    s = choose(preds, labels, fps, [0.5, 1.0])
    assert s.window_s == {"valence": 0.0, "arousal": 0.0}


def test_choice_depends_only_on_the_labels_given():
    preds, labels, fps = world(2)
    val = {c: labels[c] for c in ("c0", "c1")}
    first = choose(preds, val, fps, [0.2, 0.5, 1.0, 2.0])
    labels["c2"] = -labels["c2"]  # a "test" clip's labels change: the choice does not
    assert choose(preds, val, fps, [0.2, 0.5, 1.0, 2.0]) == first
    assert choose(preds, {}, fps, [0.5]).window_s == {"valence": 0.0, "arousal": 0.0}


def test_held_out_windows_never_see_the_clips_own_video():
    preds, labels, fps = world(3, clips=4)
    video_of = {"c0": "v0", "c1": "v0", "c2": "v2", "c3": "v3"}  # c0/c1: the _left/_right clips of one video
    windows = [0.2, 0.5, 1.0, 2.0]
    first = held_out(preds, labels, fps, video_of, windows)
    assert set(first) == set(labels)
    for c in labels:  # each clip is smoothed as the window chosen on the other videos' clips smooths it
        others = {o: y for o, y in labels.items() if video_of[o] != video_of[c]}
        np.testing.assert_array_equal(first[c], choose(preds, others, fps, windows).apply(preds[c], fps[c]))
    changed = dict(labels, c0=-labels["c0"], c1=np.zeros_like(labels["c1"]))  # v0's own labels: no effect on v0
    again = held_out(preds, changed, fps, video_of, windows)
    for c in ("c0", "c1"):
        np.testing.assert_array_equal(again[c], first[c])
    one_video = held_out(preds, {c: labels[c] for c in ("c0", "c1")}, fps, video_of, windows)
    np.testing.assert_array_equal(one_video["c0"], np.clip(preds["c0"], -1, 1))  # nothing else to choose on: unsmoothed
