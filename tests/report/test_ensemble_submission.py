"""Ensembles of runs, per-clip CSVs and the ABAW submission file."""
from pathlib import Path

import numpy as np
import pandas as pd

from affect.report.ensemble import IN_SAMPLE_REFUSED, average, group_runs, in_sample_clips, selection_average
from affect.report.submission import read_clip_csv, submission_table, write_clip_csv, write_submission


def test_runs_named_model_at_member_are_grouped():
    runs = {"fusion@seed1": Path("b"), "fusion@seed0": Path("a"), "unimodal/x": Path("c"), "baseline/late": Path("d")}
    assert group_runs(runs) == {"baseline/late": {"baseline/late": Path("d")},
                                "fusion": {"fusion@seed0": Path("a"), "fusion@seed1": Path("b")},
                                "unimodal/x": {"unimodal/x": Path("c")}}
    assert sorted(group_runs(runs, ensemble=False)) == sorted(runs)


def test_average_needs_every_member():
    a = {"c1": np.ones((4, 2)), "c2": np.zeros((3, 2)), "c3": np.zeros((3, 2))}
    b = {"c1": np.zeros((4, 2)), "c3": np.zeros((2, 2))}
    out, problems = average([a, b])
    assert list(out) == ["c1"] and np.allclose(out["c1"], 0.5) and out["c1"].dtype == np.float32
    assert problems["c2"] == "predicted by 1 of 2 ensemble members" and "disagree" in problems["c3"]


def test_a_member_never_predicts_a_clip_it_trained_on_while_another_held_it_out():
    fold0 = {c: np.full((3, 2), 0.2, np.float32) for c in ("a", "b", "test")}  # trained on b, held out a
    fold1 = {c: np.full((3, 2), 0.6, np.float32) for c in ("a", "b", "test")}  # trained on a, held out b
    both = {c: np.full((3, 2), 1.0, np.float32) for c in ("a", "b", "test")}  # trained on a and b
    out, problems = average([fold0, fold1], [{"b"}, {"a"}])
    assert not problems
    assert np.allclose(out["a"], 0.2) and np.allclose(out["b"], 0.6)  # out of fold
    assert np.allclose(out["test"], 0.4)  # no member trained on it: all of them
    out, problems = average([fold0, both], [{"b"}, {"a", "b"}])
    assert "b" not in out and problems["b"] == IN_SAMPLE_REFUSED  # every member trained on b: no in-sample prediction
    assert np.allclose(out["a"], 0.2)
    out, problems = average([fold0, both], [{"b"}, {"a", "b"}], in_sample=["b"])  # train clips a user asked for
    assert np.allclose(out["b"], 0.6) and not problems
    assert in_sample_clips(out, [{"b"}, {"a", "b"}]) == ["b"]  # what the caller marks as in-sample
    out, problems = average([{"a": fold0["a"], "b": fold0["b"]}, {"b": fold1["b"]}], [{"a"}, set()])
    assert problems == {"a": "predicted by 0 of 1 ensemble members"}  # the member that held a out did not predict it
    assert np.allclose(out["b"], 0.4)


def test_selection_average_uses_only_the_members_whose_dev_set_holds_the_clip():
    m0 = {c: np.full((2, 2), 0.2, np.float32) for c in ("d0", "d1")}
    m1 = {c: np.full((2, 2), 0.6, np.float32) for c in ("d0", "d1")}
    out, problems = selection_average([m0, m1], [{"d0", "d1"}, {"d1"}])
    assert not problems and np.allclose(out["d0"], 0.2) and np.allclose(out["d1"], 0.4)


def test_submission_rows_in_the_given_order(tmp_path):
    preds = {"b": np.full((3, 2), 0.25, np.float32), "a": np.array([[0.1, -0.2], [0.3, 0.4]], np.float32)}
    table, missing = submission_table(["b", "zz", "a"], preds)
    assert missing == ["zz"]
    assert table["image_location"].tolist() == ["b/00001.jpg", "b/00002.jpg", "b/00003.jpg", "a/00001.jpg", "a/00002.jpg"]
    assert write_submission(tmp_path / "s.csv", ["a", "b"], preds) == []
    text = (tmp_path / "s.csv").read_text().splitlines()
    assert text[0] == "image_location,valence,arousal" and text[1] == "a/00001.jpg,0.100000,-0.200000"
    assert len(text) == 6


def test_clip_csv_round_trip(tmp_path):
    values = np.random.default_rng(0).uniform(-1, 1, (7, 2)).astype(np.float32)
    write_clip_csv(tmp_path / "c.csv", values, fps=30)
    np.testing.assert_allclose(read_clip_csv(tmp_path / "c.csv"), values, atol=1e-6)
    assert pd.read_csv(tmp_path / "c.csv")["frame"].tolist() == list(range(1, 8))
