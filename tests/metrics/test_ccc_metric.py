"""The numpy CCC metric and the challenge aggregation (affect.metrics.ccc)."""

import warnings

import audmetric
import numpy as np
import pandas as pd
import pytest

from affect.metrics import Report, UndefinedCCCWarning, ccc, evaluate, p_va


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("rho", [0.0, 0.5, 0.95])
def test_matches_audmetric(seed, rho):
    rng = np.random.default_rng(seed)
    y = rng.uniform(-1, 1, 500)
    x = rho * y + (1 - rho) * rng.normal(0.1, 0.4, 500)
    assert ccc(x, y) == pytest.approx(audmetric.concordance_cc(y, x), abs=1e-12)


def test_known_value():
    assert ccc([0, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / 7, abs=1e-15)


def test_identical_and_negated():
    x = np.random.default_rng(0).normal(size=100)
    assert ccc(x, x) == pytest.approx(1.0, abs=1e-15)
    xc = x - x.mean()
    assert ccc(xc, -xc) == pytest.approx(-1.0, abs=1e-15)


def test_symmetric():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=50), rng.normal(size=50)
    assert ccc(x, y) == pytest.approx(ccc(y, x), abs=1e-15)


def test_nan_pairs_excluded():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=200), rng.normal(size=200)
    x[[3, 50]] = np.nan
    y[[7, 50, 199]] = np.nan
    keep = ~(np.isnan(x) | np.isnan(y))
    assert ccc(x, y) == pytest.approx(ccc(x[keep], y[keep]), abs=1e-15)
    assert ccc(x, y) == pytest.approx(audmetric.concordance_cc(y, x, ignore_nan=True), abs=1e-12)


def test_constant_prediction_is_zero_not_undefined():
    y = np.array([0.1, 0.5, -0.3, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ccc(np.full(4, 0.1), y) == 0.0
        assert ccc(np.full(4, 0.1), np.full(4, 0.3)) == 0.0  # both constant, different


@pytest.mark.parametrize(
    "x, y",
    [
        ([], []),
        ([0.5], [0.2]),
        ([0.1, np.nan, 0.3], [np.nan, 0.2, np.nan]),  # one valid pair
        ([0.1] * 7, [0.1] * 7),  # constant and equal: zero denominator
        ([0.3, 0.3, np.nan], [0.3, 0.3, 1.0]),
    ],
)
def test_undefined_is_nan_with_warning(x, y):
    with pytest.warns(UndefinedCCCWarning):
        assert np.isnan(ccc(x, y))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        ccc([1.0, 2.0], [1.0, 2.0, 3.0])


def test_float64_accumulation_is_stable():
    # Large offset and tiny variance: float32 one-pass formulas lose everything here.
    rng = np.random.default_rng(3)
    y = 0.5 + 1e-4 * rng.normal(size=100_000)
    x = y + 1e-5 * rng.normal(size=100_000)
    assert ccc(x.astype(np.float32), y.astype(np.float32)) == pytest.approx(
        audmetric.concordance_cc(y.astype(np.float32).astype(np.float64),
                                 x.astype(np.float32).astype(np.float64)),
        abs=1e-9,
    )


def test_p_va():
    assert p_va(0.4, 0.6) == pytest.approx(0.5)
    assert np.isnan(p_va(np.nan, 0.6))


def _two_clips():
    # The clips' label levels differ (+0.5 / -0.5) and the prediction gets each
    # clip's level right but not its variation: per-clip CCC is near 0, while the
    # global CCC, dominated by the between-clip spread, is high.
    rng = np.random.default_rng(7)
    t = np.linspace(0, 1, 50)
    wiggle = np.stack([0.1 * np.sin(6 * t), 0.1 * np.cos(5 * t)], axis=1)
    lab_a, lab_b = 0.5 + wiggle, -0.5 + wiggle[::-1]
    pred_a = 0.5 + 0.1 * rng.normal(size=(50, 2))
    pred_b = -0.5 + 0.1 * rng.normal(size=(50, 2))
    return {"a": pred_a, "b": pred_b}, {"a": lab_a, "b": lab_b}


def test_global_ccc_is_over_concatenation_not_mean_of_clips():
    preds, labels = _two_clips()
    report = evaluate(preds, labels)
    assert isinstance(report, Report)
    cat_p = np.concatenate([preds["a"], preds["b"]])
    cat_l = np.concatenate([labels["a"], labels["b"]])
    assert report.ccc_valence == pytest.approx(ccc(cat_p[:, 0], cat_l[:, 0]), abs=1e-15)
    assert report.ccc_arousal == pytest.approx(ccc(cat_p[:, 1], cat_l[:, 1]), abs=1e-15)
    assert report.p_va == pytest.approx((report.ccc_valence + report.ccc_arousal) / 2)
    per_clip_mean = report.per_clip["p_va"].mean()
    assert report.p_va > 0.8
    assert abs(per_clip_mean) < 0.3


def test_per_clip_table():
    preds, labels = _two_clips()
    labels["a"][[0, 1, 2], 0] = np.nan
    labels["a"][5, :] = np.nan
    report = evaluate(preds, labels)
    table = report.per_clip
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["clip", "frames", "valid_frames", "ccc_valence", "ccc_arousal", "p_va"]
    assert list(table["clip"]) == ["a", "b"]
    assert list(table["frames"]) == [50, 50]
    assert list(table["valid_frames"]) == [46, 50]
    row = table.iloc[0]
    keep = ~np.isnan(labels["a"][:, 0])
    assert row["ccc_valence"] == pytest.approx(ccc(preds["a"][keep, 0], labels["a"][keep, 0]))
    assert row["p_va"] == pytest.approx((row["ccc_valence"] + row["ccc_arousal"]) / 2)
    assert report.frames == 100 and report.valid_frames == 96 and report.clips == 2
    assert set(report.as_dict()) == {"ccc_valence", "ccc_arousal", "p_va", "clips", "frames", "valid_frames"}


def test_extra_prediction_clips_are_ignored():
    preds, labels = _two_clips()
    preds["test_only"] = np.zeros((10, 2))
    assert evaluate(preds, labels).clips == 2


def test_missing_clips_raise_naming_them():
    preds, labels = _two_clips()
    labels["c_10"] = labels["a"]
    labels["c_2"] = labels["b"]
    with pytest.raises(ValueError, match=r"2 labelled clip\(s\) missing.*'c_10'.*'c_2'"):
        evaluate(preds, labels)


def test_shape_mismatch_raises_naming_clip():
    preds, labels = _two_clips()
    preds["b"] = preds["b"][:-1]
    with pytest.raises(ValueError, match="clip 'b'"):
        evaluate(preds, labels)
    preds, labels = _two_clips()
    preds["a"] = preds["a"][:, :1]
    with pytest.raises(ValueError, match="clip 'a'"):
        evaluate(preds, labels)


def test_unconverted_invalid_marker_raises():
    preds, labels = _two_clips()
    labels["a"][3] = -5
    with pytest.raises(ValueError, match="clip 'a'.*-5"):
        evaluate(preds, labels)


def test_nan_prediction_on_valid_frame_raises():
    preds, labels = _two_clips()
    preds["b"][4, 1] = np.nan
    with pytest.raises(ValueError, match="clip 'b'"):
        evaluate(preds, labels)
    labels["b"][4, 1] = np.nan  # on an invalid frame it is fine
    evaluate(preds, labels)


def test_undefined_clip_gives_one_warning_and_nan_row():
    preds, labels = _two_clips()
    labels["flat"] = np.full((5, 2), 0.2)
    preds["flat"] = np.full((5, 2), 0.2)
    with pytest.warns(UndefinedCCCWarning, match="1 clip.*'flat'") as record:
        report = evaluate(preds, labels)
    assert len([w for w in record if issubclass(w.category, UndefinedCCCWarning)]) == 1
    assert np.isnan(report.per_clip.set_index("clip").loc["flat", "p_va"])
    assert np.isfinite(report.p_va)
