"""Complete test submissions: a clip of the test list that stage 00 rejected fails stage 08 by
default (naming the clip and the reason), is filled with `predict.missing=zeros|mean`, and is
listed by stage 09 with its stage-00 reason (against stages 05-07 faked, predict_fixtures.py)."""
import numpy as np
import pandas as pd
import pytest
from predict_fixtures import ANN, CLIPS, build_corpus, config, install, run

from affect.data.manifest import load_labels, read_manifest, read_rejected
from affect.report.store import read_models
from affect.stages import RunOptions, get_stage
from affect.stages.base import InputError

UPSTREAM = ("prepare", "align", "unimodal", "fusion")
ORDER = ["t2", "tx", "t1", "ghost"]  # tx: its labelled twin is rejected (80 lines for 30 frames); ghost: no video


@pytest.fixture
def corpus(tmp_path, make_video, make_labels):
    root = build_corpus(tmp_path / "corpus", make_video, make_labels)
    make_video(root / "videos" / "tx.mp4", 30, fps=25, size=(32, 24))
    make_labels(root / ANN / "Validation_Set" / "tx.txt", np.zeros((80, 2)))
    (root / ANN / "test_set.txt").write_text("\n".join(ORDER) + "\n")
    return root


def predict(cfg, monkeypatch):
    install(monkeypatch)
    run(cfg, *UPSTREAM)
    return get_stage("predict")(cfg)


def test_rejected_test_clip_fails_stage_08_by_default(corpus, tmp_path, monkeypatch):
    stage = predict(config(corpus, tmp_path / "cache"), monkeypatch)
    rejected = read_rejected(stage.upstream_output("prepare").path).set_index(["clip", "split"])
    assert rejected.loc[("tx", "test"), "video_frames"] == 30 and rejected.loc[("tx", "test"), "position"] == 1
    with pytest.raises(InputError) as e:
        stage.run(RunOptions())
    message = str(e.value)
    assert "\n" not in message and "submission_test.csv would lack 2 clip(s)" in message
    assert "tx: rejected at stage 00" in message and "duplicate clip id" in message
    assert "ghost: rejected at stage 00" in message and "not found" in message and "predict.missing" in message
    assert not stage.output.done


def test_zeros_fill_every_frame_and_stage_09_lists_them(corpus, tmp_path, monkeypatch):
    # ghost has no video: no frame count to fill it with -> the stage still fails, saying why
    cfg = config(corpus, tmp_path / "cache", "predict.missing=zeros")
    with pytest.raises(InputError, match=r"ghost: .*not found \(cannot be filled: its frame count is unknown"):
        predict(cfg, monkeypatch).run(RunOptions())
    (corpus / ANN / "test_set.txt").write_text("\n".join(c for c in ORDER if c != "ghost") + "\n")
    cfg = config(corpus, tmp_path / "cache", "predict.missing=zeros", "evaluate.splits=[validation]")
    stage = predict(cfg, monkeypatch)
    assert stage.run(RunOptions()).status == "ran"
    for model, folder in read_models(stage.output.path).items():
        sub = pd.read_csv(folder / "submission_test.csv")
        clips = sub["image_location"].str.split("/").str[0]
        assert list(dict.fromkeys(clips)) == ["t2", "tx", "t1"]  # the test list's order, tx where it was
        frames = {"t2": CLIPS["t2"][2], "tx": 30, "t1": CLIPS["t1"][2]}
        assert clips.value_counts().to_dict() == frames
        tx = sub[clips == "tx"]
        assert tx["image_location"].tolist() == [f"tx/{i:05d}.jpg" for i in range(1, 31)]
        assert (tx[["valence", "arousal"]].to_numpy() == 0).all()
        assert sub.loc[clips != "tx", "valence"].abs().sum() > 0  # the predicted clips keep their predictions
        filled = pd.read_csv(folder / "filled.csv")
        assert filled[["split", "clip", "frames", "policy"]].values.tolist() == [["test", "tx", 30, "zeros"]]
        assert "rejected at stage 00" in filled.loc[0, "reason"]
    evaluate = get_stage("evaluate")(cfg)
    evaluate.run(RunOptions())
    unscored = pd.read_csv(evaluate.output.path / "unscored.csv")
    tx = unscored[unscored["clip"] == "tx"]  # the rejected validation clip: listed for every model and variant
    assert len(tx) == 2 * len(read_models(stage.output.path))
    assert tx["reason"].str.contains("rejected at stage 00: .*80 label lines", regex=True).all()
    results = pd.read_csv(evaluate.output.path / "results.csv")
    assert (results.loc[results["model"] == "fusion", "unscored"] >= 1).all()
    report = (evaluate.output.path / "report.md").read_text()
    assert "## Clips rejected at stage 00" in report and "| validation | tx |" in report and "| test | tx |" in report
    assert "## Filled clips in submissions" in report and "| fusion | test | tx | 30 | zeros |" in report


def test_mean_fills_with_the_mean_training_label(corpus, tmp_path, monkeypatch):
    (corpus / ANN / "test_set.txt").write_text("t2\ntx\nt1\n")
    cfg = config(corpus, tmp_path / "cache", "predict.missing=mean", "predict.models=[fusion]")
    stage = predict(cfg, monkeypatch)
    stage.run(RunOptions())
    prepare = stage.upstream_output("prepare").path
    manifest = read_manifest(prepare)
    train = np.concatenate([load_labels(prepare, c) for c in manifest.loc[manifest["split"] == "train", "clip"]])
    mean = np.nanmean(train, axis=0)
    sub = pd.read_csv(read_models(stage.output.path)["fusion"] / "submission_test.csv")
    tx = sub[sub["image_location"].str.startswith("tx/")][["valence", "arousal"]].to_numpy()
    assert tx.shape == (30, 2) and np.allclose(tx, mean, atol=1e-5) and not np.allclose(mean, 0)


def test_unknown_policy_is_refused(corpus, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="predict.missing must be one of fail, zeros, mean"):
        predict(config(corpus, tmp_path / "cache", "predict.missing=skip"), monkeypatch).run(RunOptions())

