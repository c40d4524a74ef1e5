"""No in-sample validation: a clip is scored only by runs that never trained on it (checked against each
run's own run.json), and where choices were made is carried from the runs to stage 09's tables."""
import json

import numpy as np
import pandas as pd
import pytest
from predict_fixtures import RUNS, FakeBackend, build_corpus, config, install, run

from affect.data.manifest import read_manifest
from affect.report.frames import to_video_frames

from affect.report.ensemble import IN_SAMPLE_REFUSED
from affect.report.store import load_arrays, read_models

VAL = ["v1_left", "v1_right", "v2"]
#: cross-validation folds (by video: v1's two sides together) and one misconfigured run that trained on everything
CV_RUNS = {
    "unimodal": {"unimodal/feat-a@fold0": {"noise": 0.2, "bias": 0.0, "record": {"train_clips": ["tr", "v2"]}},
                 "unimodal/feat-a@fold1": {"noise": 0.3, "bias": 0.1,
                                           "record": {"train_clips": ["tr", "v1_left", "v1_right"]}},
                 "unimodal/feat-b": {"noise": 0.2, "bias": 0.0, "record": {"train_clips": ["tr", *VAL]}}},
    "fusion": {f"fusion@fold{k}-seed{s}": {"noise": 0.2, "bias": 0.05 * s, "record": {"train_clips": clips}}
               for k, clips in enumerate((["tr", "v2"], ["tr", "v1_left", "v1_right"])) for s in (0, 1)},
}


@pytest.fixture
def corpus(tmp_path, make_video, make_labels):
    return build_corpus(tmp_path / "corpus", make_video, make_labels)


def runs_json(stage) -> dict[str, dict]:
    """run name -> its run.json, read from the training stages' folders."""
    out = {}
    for name in ("unimodal", "fusion"):
        for path in (stage.upstream_output(name).path / "runs").glob("*/run.json"):
            record = json.loads(path.read_text())
            out[record["name"]] = record
    return out


@pytest.mark.parametrize("ensemble", [True, False])
def test_no_clip_is_scored_by_a_run_that_trained_on_it(corpus, tmp_path, monkeypatch, ensemble):
    for stage_name, runs in CV_RUNS.items():
        monkeypatch.setitem(RUNS, stage_name, runs)
    install(monkeypatch)
    cfg = config(corpus, tmp_path / "cache", f"predict.ensemble={str(ensemble).lower()}", "predict.smooth=false")
    run(cfg, "prepare", "align", "unimodal", "fusion", "predict", "evaluate")
    import affect.stages

    evaluate = affect.stages.get_stage("evaluate")(cfg)
    predict = evaluate.upstream_output("predict").path
    align = affect.stages.get_stage("predict")(cfg).upstream_output("align").path
    manifest = read_manifest(evaluate.upstream_output("prepare").path).set_index("clip")
    backend = FakeBackend()
    records = runs_json(evaluate)
    per_clip = pd.read_csv(evaluate.output.path / "per_clip.csv")
    unscored = pd.read_csv(evaluate.output.path / "unscored.csv")
    models = read_models(predict)
    for model, folder in models.items():
        members = json.loads((folder / "info.json").read_text())["members"]
        raw = load_arrays(folder / "raw.npz")
        scored = set(per_clip.loc[(per_clip["model"] == model) & (per_clip["split"] == "validation"), "clip"])
        for clip in VAL:  # predicted (hence scored) only by members that held it out
            held_out = [r for r in members if clip not in records[r]["train_clips"]]
            assert (clip in raw) == bool(held_out) and (clip in scored) == bool(held_out), (model, clip)
            if not held_out:
                why = unscored.loc[(unscored["model"] == model) & (unscored["clip"] == clip), "reason"]
                assert (why == "no predictions for this labelled clip").all() and len(why) == 2  # raw and smoothed
                errors = json.loads((folder / "info.json").read_text())["errors"]
                assert {"clip": clip, "file": model, "error": IN_SAMPLE_REFUSED} in errors
        for clip in scored:  # the prediction scored is the mean of exactly the members that held the clip out
            held_out = [r for r in members if clip not in records[r]["train_clips"]]
            row = manifest.loc[clip]
            expected = np.mean([to_video_frames(clip, backend.predict_grid(members[r], align, [clip])[clip],
                                                backend.grid(align, clip)[0], row["frames"], row["fps"])
                                for r in held_out], axis=0)
            np.testing.assert_allclose(raw[clip], expected, atol=1e-6)
    if ensemble:  # cv: every validation clip out of fold; the run trained on everything scores nothing
        assert set(per_clip.loc[per_clip["model"] == "fusion", "clip"]) == set(VAL)
        assert "unimodal/feat-b" not in set(per_clip["model"])
        assert set(load_arrays(models["fusion"] / "raw.npz")) == set(VAL) | {"t1", "t2"}  # test: every fold run
    else:  # each fold run alone: scored on its own held-out fold, flagged as scored on other clips
        assert set(per_clip.loc[per_clip["model"] == "fusion@fold0-seed0", "clip"]) == {"v1_left", "v1_right"}
        assert set(per_clip.loc[per_clip["model"] == "fusion@fold1-seed1", "clip"]) == {"v2"}
        results = pd.read_csv(evaluate.output.path / "results.csv")
        val = results[(results["split"] == "validation") & (results["predictions"] == "raw")].set_index("model")
        assert val.loc["fusion@fold0-seed0", "clips"] == 2 and val.loc["fusion@fold1-seed0", "clips"] == 1
        assert val["same_clips"].sum() >= 1 and not val["same_clips"].all()


def test_train_clips_are_predicted_in_sample_only_when_asked_and_marked(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(RUNS, "unimodal", {"unimodal/feat-a": {"noise": 0.2, "bias": 0.0,
                                                                "record": {"train_clips": ["tr"]}}})
    install(monkeypatch)
    cfg = config(corpus, tmp_path / "cache", "predict.splits=[train,validation,test]", "evaluate.splits=[train,validation]",
                 "predict.models=[unimodal/feat-a]")
    run(cfg, "prepare", "align", "unimodal", "fusion", "predict", "evaluate")
    import affect.stages

    evaluate = affect.stages.get_stage("evaluate")(cfg)
    info = json.loads((read_models(evaluate.upstream_output("predict").path)["unimodal/feat-a"] / "info.json").read_text())
    assert info["in_sample"] == ["tr"] and info["selected_on"] == "validation"
    results = pd.read_csv(evaluate.output.path / "results.csv").set_index(["split", "predictions"])
    assert bool(results.loc[("train", "raw"), "in_sample"]) and not results.loc[("validation", "raw"), "in_sample"]
    report = (evaluate.output.path / "report.md").read_text()
    assert "IN-SAMPLE" in report and "validation (optimistic)" in report


@pytest.mark.parametrize("select", ["dev", "validation"])
def test_where_choices_were_made_reaches_the_tables(corpus, tmp_path, monkeypatch, select):
    record = {"train_clips": [], "dev_clips": ["tr"]} if select == "dev" else {"train_clips": ["tr"]}
    monkeypatch.setitem(RUNS, "unimodal", {"unimodal/feat-a": {"noise": 0.3, "bias": 0.0, "record": record}})
    install(monkeypatch)
    cfg = config(corpus, tmp_path / "cache", "predict.models=[unimodal/feat-a]")
    run(cfg, "prepare", "align", "unimodal", "fusion", "predict", "evaluate")
    import affect.stages
    from affect.report.summary import score_summary

    evaluate = affect.stages.get_stage("evaluate")(cfg)
    folder = read_models(evaluate.upstream_output("predict").path)["unimodal/feat-a"]
    smoothing = json.loads((folder / "smoothing.json").read_text())
    results = pd.read_csv(evaluate.output.path / "results.csv")
    rows = results[results["split"] == "validation"]
    summary = score_summary(evaluate.output.path, "validation")
    report = (evaluate.output.path / "report.md").read_text()
    if select == "dev":  # windows chosen on the inner dev clip, validation untouched: no held-out smoothing needed
        assert smoothing["chosen_on"] == "inner development set (1 clips)"
        assert not (folder / "heldout.npz").exists()
        assert (rows["selected_on"] == "dev").all()
        assert "selected on validation" not in summary and "inner dev set" in report
    else:
        assert smoothing["chosen_on"] == "validation (3 clips)" and (folder / "heldout.npz").exists()
        assert (rows["selected_on"] == "validation").all()
        assert summary.count("selected on validation") == 1 and "validation (optimistic)" in report
