"""The fused model's stack: per dimension, never below its best candidate on the clips it was fitted on."""
import numpy as np
import pytest

from affect.metrics import ccc
from affect.train.stacking import combine, fit_stack, fit_weights, frames


def case(seed=0, clips=6, steps=200):
    """Labels; 'xattn' mediocre on valence, good on arousal; 'face' alone carries valence; 'voice' arousal only."""
    rng = np.random.default_rng(seed)
    labels, preds = {}, {"xattn": {}, "face": {}, "voice": {}}
    for i in range(clips):
        c = f"c{i}"
        y = np.tanh(np.cumsum(rng.standard_normal((steps, 2)), 0) / 8)
        y[:5, 0] = np.nan
        labels[c] = y
        v, a = np.nan_to_num(y[:, 0]), y[:, 1]
        preds["xattn"][c] = np.stack([0.4 * v + 0.3 * rng.standard_normal(steps), a + 0.3 * rng.standard_normal(steps)], 1)
        preds["face"][c] = np.stack([v + 0.1 * rng.standard_normal(steps), 0.5 * rng.standard_normal(steps)], 1)
        preds["voice"][c] = np.stack([0.5 * rng.standard_normal(steps), a + 0.5 * rng.standard_normal(steps)], 1)
    return preds, labels


def scores(preds, labels, weights, d):
    p, y, _ = frames(preds, labels, sorted(labels), d)
    return ccc(p @ weights[d], y), [ccc(p[:, i], y) for i in range(p.shape[1])]


@pytest.mark.parametrize("mode", ["pick", "blend"])
def test_one_set_alone_carries_valence(mode):
    preds, labels = case()
    video_of = {c: f"v{int(c[1:]) // 2}" for c in labels}  # two clips per video
    weights, held_out, _ = fit_stack(preds, labels, video_of, mode)
    assert weights.shape == (2, 3) and np.allclose(weights.sum(1), 1) and (weights >= 0).all()
    assert weights[0, 1] > 0.8  # valence: the face set passes through (almost) alone
    assert weights[1, 1] < 0.1  # arousal: not from the face set
    for d in (0, 1):
        stacked, singles = scores(preds, labels, weights, d)
        assert stacked >= max(singles) - 1e-9
    if mode == "pick":
        assert weights[0].tolist() == [0.0, 1.0, 0.0] and weights[1].tolist() == [1.0, 0.0, 0.0]
    assert set(held_out) == set(labels) and held_out["c0"] is held_out["c1"]  # one fit per held-out video
    out = combine([preds[n]["c2"] for n in preds], weights)
    assert out.dtype == np.float32 and out.shape == (200, 2) and np.abs(out).max() <= 1
    np.testing.assert_allclose(out[:, 0], np.clip(sum(w * preds[n]["c2"][:, 0] for w, n in zip(weights[0], preds)), -1, 1),
                               atol=1e-6)


def test_pair_halves_the_attention_network_with_the_best_set_of_each_dimension():
    preds, labels = case()
    weights, held_out, _ = fit_stack(preds, labels, {c: f"v{c}" for c in labels}, "pair")
    assert weights.tolist() == [[0.5, 0.5, 0.0], [0.5, 0.0, 0.5]]  # valence: face; arousal: voice
    assert len(held_out) == 6 and all(np.isin(w, (0.0, 0.5)).all() for w in held_out.values())
    p, y, _ = frames({"xattn": preds["xattn"]}, labels, sorted(labels), 0)
    assert fit_weights(p, y, "pair").tolist() == [1.0]  # nothing to pair with


def test_off_is_the_first_candidate_and_modes_are_checked():
    preds, labels = case(1)
    p, y, _ = frames(preds, labels, sorted(labels), 0)
    assert fit_weights(p, y, "off").tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="pair, blend, pick, off"):
        fit_weights(p, y, "best")
    _, held_out, _ = fit_stack(preds, labels, {c: "v0" for c in labels}, "pick")  # one video: nothing to hold out
    assert held_out == {}


def test_a_stack_run_predicts_with_its_candidates_in_the_weights_order(tmp_path, monkeypatch):
    """run.json is written with sorted keys: the candidates are a list, so 'z' stays the first column."""
    from affect.cache.atomic import write_json
    from affect.train import runs

    preds, labels = case(2, clips=2, steps=50)
    names = {"z-xattn": "xattn", "a-face": "face", "m-voice": "voice"}
    weights = [[0.0, 1.0, 0.0], [0.25, 0.0, 0.75]]
    write_json(tmp_path / "run.json", {"name": "fusion", "kind": "stack", "features": [], "weights": weights,
                                       "held_out": {"c1": [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]},
                                       "candidates": [{"name": n, "runs": [n]} for n in names]})
    monkeypatch.setattr(runs, "_check", lambda *a: None)
    monkeypatch.setattr(runs, "candidate_predictions",
                        lambda dirs, align, clips, device="cpu": {c: preds[names[dirs[0].name]][c] for c in clips})
    out = runs.predict_grid(tmp_path, tmp_path, ["c0", "c1"])
    np.testing.assert_allclose(out["c0"][:, 0], np.clip(preds["face"]["c0"][:, 0], -1, 1), atol=1e-6)
    np.testing.assert_allclose(out["c0"][:, 1], np.clip(0.25 * preds["xattn"]["c0"][:, 1] + 0.75 * preds["voice"]["c0"][:, 1],
                                                        -1, 1), atol=1e-6)
    np.testing.assert_allclose(out["c1"][:, 0], np.clip(preds["xattn"]["c1"][:, 0], -1, 1), atol=1e-6)  # held out


def test_stack_fits_work_on_per_video_sums_and_hold_out_folds_beyond_ten_videos():
    """The CCC of any weighted mean follows from per-video sums (so a fit costs the same on any length of
    video); with more than FOLDS videos each video is held out with its fold, never fitted on."""
    from affect.train.stacking import FOLDS, _ccc_m, moments

    preds, labels = case(3, clips=24, steps=40)
    video_of = {c: f"v{int(c[1:]):02d}" for c in labels}  # 24 videos, one clip each
    p, y, groups = frames(preds, labels, sorted(labels), 0, video_of)
    names, m = moments(p, y, groups)
    assert len(names) == 24 and m.shape == (24, 5, 5)
    w = np.array([0.2, 0.5, 0.3])
    some = np.isin(groups, names[:7])
    assert _ccc_m(m[:7].sum(0), w) == pytest.approx(ccc(p[some] @ w, y[some]), abs=1e-12)

    weights, held_out, modes = fit_stack(preds, labels, video_of, "auto")
    assert set(held_out) == set(labels) and len({id(v) for v in held_out.values()}) == FOLDS
    fold = sorted(video_of.values())[3::FOLDS]  # the fourth fold: videos 3, 13, 23
    rest = sorted(c for c in labels if video_of[c] not in fold)
    for d in (0, 1):
        p, y, g = frames(preds, labels, rest, d, video_of)
        np.testing.assert_allclose(held_out["c3"][d], fit_weights(p, y, "auto", g), atol=1e-6)
    assert held_out["c3"] is held_out["c13"] and held_out["c3"] is not held_out["c4"]
