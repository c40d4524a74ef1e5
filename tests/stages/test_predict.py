"""Stage 08 `predict` against stages 05-07 faked to their contract (see predict_fixtures.py)."""
import json

import numpy as np
import pandas as pd
import pytest
from predict_fixtures import CLIPS, RUNS, TEST_ORDER, FakeBackend, build_corpus, config, install, run

from affect.data.manifest import labels_path, read_manifest
from affect.report.frames import to_video_frames
from affect.report.store import load_arrays, read_models
from affect.stages.base import InputError

UPSTREAM = ("prepare", "align", "unimodal", "fusion")


@pytest.fixture
def corpus(tmp_path, make_video, make_labels):
    return build_corpus(tmp_path / "corpus", make_video, make_labels)


def predicted(cfg, monkeypatch, backend=None):
    backend = install(monkeypatch, backend)
    reports = run(cfg, *UPSTREAM, "predict")
    import affect.stages

    stage = affect.stages.get_stage("predict")(cfg)
    return stage, reports[-1], backend


def test_every_frame_of_every_clip_gets_exactly_one_row(corpus, tmp_path, monkeypatch):
    cfg = config(corpus, tmp_path / "cache", "predict.splits=[train,validation,test]")
    stage, report, _ = predicted(cfg, monkeypatch)
    assert report.status == "ran"
    assert not (stage.output.path / "errors.csv").exists()
    manifest = read_manifest(stage.upstream_output("prepare").path).set_index("clip")
    assert sorted(manifest.index) == sorted(CLIPS)
    models = read_models(stage.output.path)
    assert sorted(models) == ["fusion", "unimodal/feat-a", "unimodal/feat-b"]
    for model, folder in models.items():
        final = load_arrays(folder / "final.npz")
        for clip, (_, fps, video_frames, lines, _, _) in CLIPS.items():
            frames = lines or video_frames  # labels define a labelled clip's frames; the video an unlabelled one's
            assert manifest.loc[clip, "frames"] == frames
            table = pd.read_csv(folder / "frames" / f"{clip}.csv")
            assert list(table.columns) == ["frame", "time_s", "valence", "arousal"]
            assert len(table) == frames and table["frame"].tolist() == list(range(1, frames + 1))
            np.testing.assert_allclose(table["time_s"], (np.arange(frames) + 0.5) / fps, atol=1e-6)
            values = table[["valence", "arousal"]].to_numpy()
            assert np.isfinite(values).all() and np.abs(values).max() <= 1.0
            np.testing.assert_allclose(values, final[clip], atol=1e-6)
    info = json.loads((models["fusion"] / "info.json").read_text())
    assert sorted(info["members"]) == ["fusion@seed0", "fusion@seed1"] and info["errors"] == []


def test_submission_file_has_the_expected_rows_in_test_list_order(corpus, tmp_path, monkeypatch):
    stage, _, _ = predicted(config(corpus, tmp_path / "cache"), monkeypatch)
    folder = read_models(stage.output.path)["fusion"]
    sub = pd.read_csv(folder / "submission_test.csv")
    assert list(sub.columns) == ["image_location", "valence", "arousal"]
    expected = [f"{clip}/{i:05d}.jpg" for clip in TEST_ORDER for i in range(1, CLIPS[clip][2] + 1)]
    assert sub["image_location"].tolist() == expected
    final = load_arrays(folder / "final.npz")
    np.testing.assert_allclose(sub[["valence", "arousal"]].to_numpy(),
                               np.concatenate([final[c] for c in TEST_ORDER]), atol=1e-6)
    val = pd.read_csv(folder / "submission_validation.csv")  # any split: validation too
    assert len(val) == sum(CLIPS[c][3] for c in CLIPS if CLIPS[c][4] == "Validation_Set")


def test_ensemble_is_the_mean_of_its_members_mapped_to_frames(corpus, tmp_path, monkeypatch):
    cfg = config(corpus, tmp_path / "cache", "predict.smooth=false")
    stage, _, backend = predicted(cfg, monkeypatch)
    manifest = read_manifest(stage.upstream_output("prepare").path).set_index("clip")
    align = stage.upstream_output("align").path
    members = [p for p in (stage.upstream_output("fusion").path / "runs").iterdir()]
    raw = load_arrays(read_models(stage.output.path)["fusion"] / "raw.npz")
    assert sorted(raw) == sorted(manifest.index[manifest["split"] != "train"])
    for clip, values in raw.items():
        row = manifest.loc[clip]
        mapped = [to_video_frames(clip, FakeBackend().predict_grid(m, align, [clip])[clip],
                                  backend.grid(align, clip)[0], row["frames"], row["fps"]) for m in members]
        np.testing.assert_allclose(values, np.mean(mapped, axis=0), atol=1e-6)
    final = load_arrays(read_models(stage.output.path)["fusion"] / "final.npz")
    assert all(np.array_equal(final[c], raw[c]) for c in raw)  # smoothing off: final is raw

    cfg = config(corpus, tmp_path / "cache", "predict.ensemble=false")
    stage, _, _ = predicted(cfg, monkeypatch)
    assert sorted(read_models(stage.output.path)) == ["fusion@seed0", "fusion@seed1", "unimodal/feat-a",
                                                      "unimodal/feat-b"]


def test_smoothing_is_chosen_on_validation_and_never_sees_test_labels(corpus, tmp_path, monkeypatch):
    import affect.stages.predict as predict_module

    loaded = []
    real_load = predict_module.load_labels
    monkeypatch.setattr(predict_module, "load_labels", lambda d, c: loaded.append(c) or real_load(d, c))
    cfg = config(corpus, tmp_path / "cache", "predict.splits=[train,validation,test]")
    stage, _, _ = predicted(cfg, monkeypatch)
    validation = {c for c, spec in CLIPS.items() if spec[4] == "Validation_Set"}
    assert set(loaded) == validation
    models = read_models(stage.output.path)
    windows = {m: json.loads((f / "smoothing.json").read_text()) for m, f in models.items()}
    assert all(w["chosen_on"] == "validation (3 clips)" for w in windows.values())
    assert max(windows["unimodal/feat-b"]["window_s"].values()) > 0  # noisy predictions: smoothing helps
    for folder in models.values():  # the validation clips again, each smoothed without its own video's labels
        assert set(load_arrays(folder / "heldout.npz")) == validation

    # labels planted for the test clips and changed for the train clip leave the choice unchanged
    prepare = stage.upstream_output("prepare").path
    rng = np.random.default_rng(0)
    for clip in ("t1", "t2", "tr"):
        np.save(labels_path(prepare, clip), rng.uniform(-1, 1, (CLIPS[clip][3] or CLIPS[clip][2], 2)).astype(np.float32))
    run(cfg, "predict", overwrite=True)
    again = {m: json.loads((f / "smoothing.json").read_text()) for m, f in read_models(stage.output.path).items()}
    assert again == windows


def test_bad_runs_and_nan_predictions_are_reported_and_the_rest_goes_on(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(RUNS, "unimodal", {"unimodal/feat-a": {"noise": 0.2, "bias": 0.0, "nan_clip": "v1_left"},
                                           "unimodal/feat-b": {"noise": 0.2, "bias": 0.0, "checkpoint": False}})
    # feat-b predicts no test clip: by default stage 08 fails naming them (the other models are written)
    with pytest.raises(InputError, match=r"lack 2 clip\(s\) of the test list: t2: no predictions.*models: unimodal/feat-b"):
        predicted(config(corpus, tmp_path / "cache"), monkeypatch)
    # with predict.missing=zeros they are filled (and listed) and the stage finishes
    cfg = config(corpus, tmp_path / "cache", "predict.missing=zeros")
    stage, report, backend = predicted(cfg, monkeypatch)
    assert report.status == "ran"
    filled = pd.read_csv(read_models(stage.output.path)["unimodal/feat-b"] / "filled.csv")
    assert filled[["clip", "frames"]].values.tolist() == [["t2", CLIPS["t2"][2]], ["t1", CLIPS["t1"][2]]]
    assert not (read_models(stage.output.path)["unimodal/feat-a"] / "filled.csv").exists()
    errors = pd.read_csv(stage.output.path / "errors.csv").fillna("")
    run_error = errors[errors["file"].str.endswith("unimodal__feat-b") & (errors["clip"] == "")]
    assert len(run_error) == 1 and "no usable checkpoint" in run_error["error"].iloc[0]
    assert "checkpoint.json" in run_error["error"].iloc[0]
    nan = errors[(errors["clip"] == "v1_left") & errors["error"].str.contains("NaN")]
    assert len(nan) == 1 and "feat-a" in nan["error"].iloc[0]
    assert ((errors["clip"] == "v1_left") & errors["file"].str.contains("submission_validation")).any()
    models = read_models(stage.output.path)
    assert "v1_left" not in load_arrays(models["unimodal/feat-a"] / "final.npz")
    assert load_arrays(models["unimodal/feat-b"] / "final.npz") == {}
    assert len(load_arrays(models["fusion"] / "final.npz")) == 5

    calls = len(backend.calls)
    assert run(cfg, "predict")[0].status == "done-before"
    assert len(backend.calls) == calls


def test_missing_upstream_and_unknown_models_fail_with_clear_messages(corpus, tmp_path, monkeypatch):
    from affect.stages import StageNotReady

    install(monkeypatch)
    cfg = config(corpus, tmp_path / "cache")
    run(cfg, "prepare", "align")
    with pytest.raises(StageNotReady, match="needs stage 'unimodal'"):
        run(cfg, "predict")
    cfg = config(corpus, tmp_path / "cache", "predict.models=[fusion,unimodal/nope]")
    run(cfg, "unimodal", "fusion")
    with pytest.raises(ValueError, match="no trained run named \\['unimodal/nope'\\]"):
        run(cfg, "predict")


def test_a_limited_run_is_partial_and_the_full_run_completes_it(corpus, tmp_path, monkeypatch):
    import affect.stages

    cfg = config(corpus, tmp_path / "cache")
    install(monkeypatch)
    run(cfg, *UPSTREAM)
    assert run(cfg, "predict", limit=4)[0].status == "partial"
    stage = affect.stages.get_stage("predict")(cfg)
    taken = set(stage.selected_clips(4)["clip"]) - {"tr"}  # the same balanced first N as every stage, minus train
    assert not stage.output.done and stage.output.partial() is not None
    assert set(load_arrays(read_models(stage.output.path)["fusion"] / "final.npz")) == taken
    assert run(cfg, "predict")[0].status == "ran"
    assert stage.output.done and len(load_arrays(read_models(stage.output.path)["fusion"] / "final.npz")) == 5


def test_a_validation_clip_in_an_inner_dev_set_marks_the_model_selected_on_validation(corpus, tmp_path, monkeypatch,
                                                                                       caplog):
    """train.cv: a fold's inner dev set can hold official validation clips; choices made there saw their labels."""
    others = [c for c, spec in CLIPS.items() if spec[4] == "Validation_Set" and c != "v2"]
    monkeypatch.setitem(RUNS, "unimodal", {
        "unimodal/feat-a": {"noise": 0.25, "bias": 0.0, "record": {"train_clips": ["tr", *others], "dev_clips": ["v2"]}},
        "unimodal/feat-b": {"noise": 0.5, "bias": 0.1, "record": {"train_clips": others, "dev_clips": ["tr"]}}})
    stage, _, _ = predicted(config(corpus, tmp_path / "cache"), monkeypatch)
    info = {m: json.loads((f / "info.json").read_text()) for m, f in read_models(stage.output.path).items()}
    assert info["unimodal/feat-a"]["selected_on"] == "validation"  # marked: its figures say so
    assert info["unimodal/feat-b"]["selected_on"] == "dev"
    assert "validation clip(s) v2 were inner dev clips of other folds" in caplog.text
