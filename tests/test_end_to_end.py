"""Every stage, on a tiny generated corpus; then again, and nothing is recomputed.

Stage 01 detects with MTCNN (small frames), stages 02/04 use a tiny random-weight network and
openSMILE (real, shipped), stages 06/07 train for a few epochs: the point is that every stage
runs and hands the next what the contract says, not a score.
"""
import json
import re

import numpy as np
import pandas as pd

from affect.cli import main
from affect.config import load_config
from affect.data.manifest import read_manifest
from affect.report.store import read_models
from affect.stages import get_stage, stage_names

ARGS = ["corpus.name=e2e", "faces.size=64", "prepare.folds=2",
        "faces.max_side=192", "faces.min_face_size=24",  # small frames: fast MTCNN on CPU
        "visual.weights=random", "visual.backbones=[resnet10t,landmarks68]", "visual.workers=0",
        "speech.weights=random", "speech.backbones=[egemaps]", "fusion.seeds=2",  # fusion@seed0/1, predicted as one
        *[f"{s}.train.{k}" for s in ("unimodal", "fusion") for k in ("epochs=2", "window=8", "stride=4")]]


def test_all_stages_then_nothing_recomputed(synth_corpus, tmp_path, caplog, capsys):
    root, record = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", *ARGS]
    assert main(["run", "--device", "cpu", *args]) == 0
    out, err = capsys.readouterr()
    # each warning once per run: the random-weight warning of the one random-weight backbone, once
    assert sum("resnet10t" in line and "random weights" in line for line in err.splitlines()) == 1
    assert not re.search(r"^\S+ (INFO|WARNING)\s+root: ", err, re.M)  # third-party chatter stays in the log files
    # the run's last line names the submission file to upload: a copy of the best model's file
    last = out.strip().splitlines()[-1]
    assert last.startswith("submission to upload: ") and str(tmp_path / "e2e" / "latest" / "submission.csv") in last
    cfg = load_config(overrides=args)
    stages = {name: get_stage(name)(cfg) for name in stage_names()}
    assert len(stages) == 10
    for stage in stages.values():
        assert stage.output.done, stage.name

    manifest = read_manifest(stages["prepare"].output.path)
    faces = stages["faces"].output
    assert json.loads((faces.path / "_done.json").read_text())["failed"] == []
    by_clip = {c["clip"]: c for c in record["clips"]}
    for _, clip in manifest.iterrows():
        table = np.load(faces.clip_dir(clip["clip"]) / "faces.npz")
        assert len(table["found"]) == clip["frames"]  # exactly one row per frame
        no_face = np.zeros(clip["frames"], bool)
        for start, stop in by_clip[clip["clip"]]["no_face_frames"]:
            no_face[start:stop] = True
        assert not table["found"][no_face].any()  # stretches without a face are masked
        assert table["found"][~no_face].mean() > 0.9

    # every model predicts every frame of every clip of the predicted splits, in [-1, 1]
    models = read_models(stages["predict"].output.path)
    assert {"fusion", "baseline/early", "unimodal/egemaps", "unimodal/resnet10t"} <= set(models)
    assert not any("@" in m for m in models)  # the seeds' runs are averaged into their model
    frames = dict(zip(manifest["clip"], manifest["frames"]))
    for model, folder in models.items():
        for split in cfg.predict.splits:
            for clip in manifest.loc[manifest["split"] == split, "clip"]:
                table = pd.read_csv(folder / "frames" / f"{clip}.csv")
                assert len(table) == frames[clip], (model, clip)
                assert table[["valence", "arousal"]].abs().le(1).all().all()
    results = pd.read_csv(stages["evaluate"].output.path / "results.csv")
    assert set(models) <= set(results["model"])
    assert (stages["evaluate"].output.path / "report.md").stat().st_size > 0
    selected = json.loads((tmp_path / "e2e" / "latest" / "selected.json").read_text())
    best = results[(results["split"] == "validation") & (results["predictions"] == "smoothed")
                   & results["model"].isin(list(models))].sort_values("p_va", ascending=False).iloc[0]
    assert selected["model"] == best["model"] and f"model {best['model']}:" in last
    assert "selected on validation" in last  # the model is chosen on the split its figure is read on
    assert (tmp_path / "e2e" / "latest" / "submission.csv").read_bytes() == \
        (models[best["model"]] / "submission_test.csv").read_bytes()
    # frames/<clip>.csv: a face column from stage 01, a speech column from stage 03
    for _, clip in manifest[manifest["split"].isin(cfg.predict.splits)].iterrows():
        table = pd.read_csv(models["fusion"] / "frames" / f"{clip['clip']}.csv")
        found = np.load(faces.clip_dir(clip["clip"]) / "faces.npz")["found"].astype(int)
        assert list(table.columns[-2:]) == ["face", "speech"] and (table["face"].to_numpy() == found).all()
    assert main(["where", *args]) == 0
    where = capsys.readouterr().out
    assert f"model {best['model']}:" in where and "its copy: " in where
    # the README's demo table is written from such a run
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("demo_table", Path(__file__).parents[1] / "benchmarks" / "demo_table.py")
    demo_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo_table)
    block = demo_table.block([], args, "a test machine")
    assert "on a test machine; stage times: prepare " in block and "fusion " in block
    assert block.splitlines()[-3].startswith("submission to upload: ")

    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    caplog.clear()
    assert main(["run", "--device", "cpu", *args]) == 0
    assert caplog.text.count("already done") == len(stage_names())
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == files
