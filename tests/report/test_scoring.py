"""Scoring: the challenge's P_VA on concatenated valid frames; every unscorable clip listed."""
import numpy as np
import pytest

from affect.report.scoring import score


def independent_p_va(preds, labels):
    p = np.concatenate(preds).astype(np.float64)
    y = np.concatenate(labels).astype(np.float64)
    out = []
    for d in range(2):
        ok = ~np.isnan(y[:, d])
        x, t = p[ok, d], y[ok, d]
        out.append(2 * np.cov(x, t, ddof=0)[0, 1] / (x.var() + t.var() + (x.mean() - t.mean()) ** 2))
    return out


def test_p_va_is_computed_once_over_the_concatenated_valid_frames():
    rng = np.random.default_rng(0)
    labels = {f"c{i}": rng.uniform(-1, 1, (n, 2)).astype(np.float32) for i, n in enumerate((30, 55, 12))}
    labels["c1"][3:9, 0] = np.nan
    labels["c2"][:, 1] = np.nan
    preds = {c: np.clip(y + rng.normal(0, 0.3, y.shape), -1, 1).astype(np.float32) for c, y in labels.items()}
    preds["c1"][3:9, 0] = np.nan  # NaN where the label is invalid: fine
    scored = score(preds, labels)
    cv, ca = independent_p_va(list(preds.values()), list(labels.values()))
    assert scored.report.ccc_valence == pytest.approx(cv, abs=1e-9)
    assert scored.report.ccc_arousal == pytest.approx(ca, abs=1e-9)
    assert scored.report.p_va == pytest.approx((cv + ca) / 2, abs=1e-9)
    assert scored.unscored.empty and scored.row()["unscored"] == 0


def test_bad_clips_are_listed_with_a_reason_and_the_rest_scored():
    y = np.random.default_rng(1).uniform(-1, 1, (20, 2)).astype(np.float32)
    nan = y.copy()
    nan[2] = np.nan
    minus5 = y.copy()
    minus5[0, 0] = -5
    labels = {"ok": y, "missing": y, "short": y, "nan": y, "minus5": minus5}
    preds = {"ok": y * 0.5, "short": y[:18], "nan": nan, "minus5": y, "extra": y}
    scored = score(preds, labels)
    reasons = dict(zip(scored.unscored["clip"], scored.unscored["reason"]))
    assert reasons == {
        "missing": "no predictions for this labelled clip",
        "short": "18 predicted frames but 20 label frames",
        "nan": "NaN predictions on 1 labelled frames",
        "minus5": "labels outside [-1, 1] (an unconverted -5 invalid marker?)",
        "extra": "predicted but no labels",
    }
    assert scored.report.clips == 1 and scored.report.per_clip["clip"].tolist() == ["ok"]


def test_nothing_scorable_gives_nan_figures_not_an_exception():
    scored = score({"t": np.zeros((5, 2))}, {})
    assert scored.report is None and np.isnan(scored.row()["p_va"]) and scored.row()["unscored"] == 1
