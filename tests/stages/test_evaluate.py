"""Stage 09 `evaluate` on predictions of stage 08 made from faked stages 05-07."""
import json
import re

import numpy as np
import pandas as pd
import pytest
from predict_fixtures import ANN, CLIPS, RUNS, build_corpus, config, install, run

from affect.data.manifest import labels_path
from affect.report.reference import CEILING

ALL = ("prepare", "align", "unimodal", "fusion", "predict", "evaluate")
VALIDATION = [c for c, spec in CLIPS.items() if spec[4] == "Validation_Set"]


@pytest.fixture
def corpus(tmp_path, make_video, make_labels):
    return build_corpus(tmp_path / "corpus", make_video, make_labels)


def evaluated(cfg, monkeypatch):
    import affect.stages

    install(monkeypatch)
    run(cfg, *ALL)
    return affect.stages.get_stage("evaluate")(cfg)


def independent_ccc(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~np.isnan(y)
    x, y = x[ok].astype(np.float64), y[ok].astype(np.float64)
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    return 2 * cov / (x.var() + y.var() + (x.mean() - y.mean()) ** 2)


def test_p_va_equals_an_independent_computation_on_concatenated_frames(corpus, tmp_path, monkeypatch):
    stage = evaluated(config(corpus, tmp_path / "cache"), monkeypatch)
    results = pd.read_csv(stage.output.path / "results.csv")
    predict = stage.upstream_output("predict").path
    assert set(results["model"]) == {"fusion", "unimodal/feat-a", "unimodal/feat-b"}
    assert set(results["predictions"]) == {"raw", "smoothed"} and set(results["split"]) == {"validation"}
    for _, row in results.iterrows():
        # labels straight from the corpus's label files, predictions from the per-clip CSVs
        labels = np.concatenate([np.loadtxt(corpus / ANN / "Validation_Set" / f"{c}.txt", delimiter=",", skiprows=1)
                                 for c in VALIDATION])
        labels[labels == -5] = np.nan
        folder = predict / "models" / row["model"].replace("/", "__")
        if row["predictions"] == "smoothed":  # validation: smoothed with windows chosen on the other videos
            with np.load(folder / "heldout.npz") as held_out:
                preds = np.concatenate([held_out[c] for c in VALIDATION])
        else:
            with np.load(folder / "raw.npz") as raw:
                preds = np.concatenate([raw[c] for c in VALIDATION])
        cv, ca = independent_ccc(preds[:, 0], labels[:, 0]), independent_ccc(preds[:, 1], labels[:, 1])
        assert row["ccc_valence"] == pytest.approx(cv, abs=1e-5)
        assert row["ccc_arousal"] == pytest.approx(ca, abs=1e-5)
        assert row["p_va"] == pytest.approx((cv + ca) / 2, abs=1e-5)
        assert row["clips"] == 3 and row["unscored"] == 0
        assert row["valid_frames"] == sum(CLIPS[c][3] - 3 for c in VALIDATION)
    per_clip = pd.read_csv(stage.output.path / "per_clip.csv")
    assert len(per_clip) == 3 * 2 * 3 and set(per_clip["clip"]) == set(VALIDATION)
    smoothed = results[results["predictions"] == "smoothed"].set_index("model")["p_va"]
    raw = results[results["predictions"] == "raw"].set_index("model")["p_va"]
    # scored on the clips they were chosen on, the windows never lose to raw (in this fake world they
    # gain); held out (each video smoothed with the windows of the others) they lose here: what is reported
    folder = predict / "models" / "unimodal__feat-b"
    final = np.concatenate([pd.read_csv(folder / "frames" / f"{c}.csv")[["valence", "arousal"]].to_numpy()
                            for c in VALIDATION])
    in_sample = np.mean([independent_ccc(final[:, d], labels[:, d]) for d in (0, 1)])
    assert in_sample > raw["unimodal/feat-b"] > smoothed["unimodal/feat-b"]


def test_report_plots_and_provenance(corpus, tmp_path, monkeypatch):
    stage = evaluated(config(corpus, tmp_path / "cache", "evaluate.splits=[validation,test]", "evaluate.plot_clips=2"),
                      monkeypatch)
    out = stage.output.path
    pngs = sorted((out / "plots").glob("*.png"))
    assert [p.name for p in pngs] == [f"{m}_{k}.png" for m in ("fusion", "unimodal__feat-a", "unimodal__feat-b")
                                      for k in ("density", "series")]
    for p in pngs:
        assert p.stat().st_size > 5000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    for p in pngs:
        assert f"](plots/{p.name})" in report
    for name in ("prepare", "align", "unimodal", "fusion", "predict"):
        up = stage.upstream(name)
        marker = json.loads((up.output.path / "_done.json").read_text())
        assert marker["fingerprint"] in report and f"{up.number:02d} {name}" in report
    assert "fusion" in report and "unimodal/feat-a" in report and not re.search(r"(?<![_a-z])window_s", report)
    unscored = pd.read_csv(out / "unscored.csv")
    test = unscored[unscored["split"] == "test"]
    assert set(test["clip"]) == {"t1", "t2"} and set(test["reason"]) == {"predicted but no labels"}
    results = pd.read_csv(out / "results.csv")
    assert results.loc[results["split"] == "test", "p_va"].isna().all()


def test_what_cannot_be_scored_is_listed_not_dropped(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(RUNS, "unimodal", {"unimodal/feat-a": {"noise": 0.2, "bias": 0.0, "nan_clip": "v1_left"},
                                           "unimodal/feat-b": {"noise": 0.2, "bias": 0.0, "checkpoint": False}})
    cfg = config(corpus, tmp_path / "cache", "predict.missing=zeros")  # feat-b has no test predictions: filled
    install(monkeypatch)
    run(cfg, *ALL[:-1])
    import affect.stages

    prepare = affect.stages.get_stage("prepare")(cfg).output.path
    np.save(labels_path(prepare, "v2"), np.load(labels_path(prepare, "v2"))[:50])  # label count now differs
    run(cfg, "evaluate")
    out = affect.stages.get_stage("evaluate")(cfg).output.path
    unscored = pd.read_csv(out / "unscored.csv")
    reasons = {(r.model, r.clip): r.reason for r in unscored[unscored["predictions"] == "raw"].itertuples()}
    assert reasons[("unimodal/feat-a", "v1_left")] == "no predictions for this labelled clip"
    assert reasons[("fusion", "v2")] == "58 predicted frames but 50 label frames"
    assert {c for (m, c) in reasons if m == "unimodal/feat-b"} == set(VALIDATION)
    results = pd.read_csv(out / "results.csv").set_index(["model", "predictions"])
    assert results.loc[("fusion", "raw"), "clips"] == 2 and results.loc[("fusion", "raw"), "unscored"] == 1
    assert np.isnan(results.loc[("unimodal/feat-b", "raw"), "p_va"])
    assert results.loc[("unimodal/feat-b", "raw"), "unscored"] == 3
    assert "58 predicted frames but 50 label frames" in (out / "report.md").read_text()


def test_real_stages_05_to_09_on_the_synth_corpus(synth_corpus, tmp_path, monkeypatch):
    """Stages 05-07 as written (synthetic feature sets through align.external), then 08 and 09."""
    import affect.stages

    align = pytest.importorskip("affect.stages.align")
    unimodal = pytest.importorskip("affect.stages.unimodal")
    fusion = pytest.importorskip("affect.stages.fusion")
    synthetic = pytest.importorskip("affect.train.synthetic_features")
    from affect.data.manifest import read_manifest
    from affect.stages.evaluate import EvaluateStage
    from affect.stages.predict import PredictStage

    root, record = synth_corpus
    for modality in ("visual", "speech"):
        synthetic.write_feature_sets(root, tmp_path / modality, modality)
    monkeypatch.setattr(align, "_registered", lambda name: False)  # feature stages 02-04 replaced by align.external
    real = affect.stages.get_stage
    extra = {"align": align.AlignStage, "unimodal": unimodal.UnimodalStage, "fusion": fusion.FusionStage,
             "predict": PredictStage, "evaluate": EvaluateStage}
    monkeypatch.setattr(affect.stages, "get_stage", lambda name: extra.get(name) or real(name))
    small = ["window=16", "stride=8", "batch_size=8", "epochs=2", "hidden=8", "layers=1", "warmup=2"]
    cfg = config(root, tmp_path / "cache", f"align.external=[{tmp_path / 'visual'},{tmp_path / 'speech'}]",
                 "predict.splits=[train,validation,test]",
                 *[f"{s}.train.{kv}" for s in ("unimodal", "fusion") for kv in small])
    reports = run(cfg, "prepare", "align", "unimodal", "fusion", "predict", "evaluate")
    assert [r.status for r in reports] == ["ran"] * 6
    predict, evaluate = (affect.stages.get_stage(n)(cfg).output.path for n in ("predict", "evaluate"))
    manifest = read_manifest(affect.stages.get_stage("prepare")(cfg).output.path)
    models = json.loads((predict / "models.json").read_text())
    assert {"fusion", "baseline/early", "baseline/late"} <= set(models)
    assert {m for m in models if m.startswith("unimodal/")} == {f"unimodal/{n}" for n in synthetic.SETS}
    test_order = [c["clip"] for c in record["clips"] if c["split"] == "test"]
    for rel in models.values():
        for _, clip in manifest.iterrows():  # no-face stretches, clips without audio, test clips: every frame
            assert len(pd.read_csv(predict / rel / "frames" / f"{clip['clip']}.csv")) == clip["frames"]
        sub = pd.read_csv(predict / rel / "submission_test.csv")
        assert sub["image_location"].str.split("/").str[0].unique().tolist() == test_order
    results = pd.read_csv(evaluate / "results.csv")
    ceiling = results[results["model"] == CEILING]  # the generator's latent, scored like a model
    assert len(ceiling) == 1 and ceiling["p_va"].iloc[0] > results.loc[results["model"] != CEILING, "p_va"].max()
    results = results[results["model"] != CEILING]
    assert len(results) == 2 * len(models) and (results["unscored"] == 0).all() and results["p_va"].notna().all()
    assert (evaluate / "report.md").is_file() and len(list((evaluate / "plots").glob("*.png"))) == 2 * len(models)
