"""Every stage that exists, on a tiny generated corpus; then again, and nothing is recomputed."""
import json

import numpy as np

from affect.cli import main
from affect.config import load_config
from affect.data.manifest import read_manifest
from affect.stages import get_stage, stage_names


def test_all_stages_then_nothing_recomputed(synth_corpus, tmp_path, caplog):
    root, record = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=e2e", "faces.size=64", "prepare.folds=2",
            "faces.max_side=192", "faces.min_face_size=24"]  # small frames: fast MTCNN on CPU
    assert main(["run", "--device", "cpu", *args]) == 0
    cfg = load_config(overrides=args)
    stages = {name: get_stage(name)(cfg) for name in stage_names()}
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

    files = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    caplog.clear()
    assert main(["run", "--device", "cpu", *args]) == 0
    assert caplog.text.count("already done") == len(stage_names())
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == files
