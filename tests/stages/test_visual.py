"""Stage 02 `visual` on a tiny generated corpus: rows, times, masks, sharding, bad input."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from affect.cache.series import load_series
from affect.config import load_config
from affect.stages import RunOptions, get_stage
from affect.timegrid import Grid

BACKBONES = ["resnet50-tiny", "senet-tiny"]


def overrides(root: Path, cache: Path, *extra: str) -> list[str]:
    return [f"corpus.root={root}", f"cache_root={cache}", "corpus.name=v", "faces.size=64", "prepare.folds=2",
            "faces.source=provided", "device=cpu", f"visual.backbones=[{','.join(BACKBONES)}]",
            "visual.weights=random", "visual.workers=1", "visual.batch_size=8", *extra]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """3 clips x 2 s (one with a stretch without a face), stages 00-01 done (provided crops)."""
    from affect.synth.corpus import generate_corpus

    base = tmp_path_factory.mktemp("visual")
    root = base / "corpus"
    generate_corpus(root, clips=3, seconds=2.0, seed=3, cropped_aligned=True)
    cfg = load_config(overrides=overrides(root, base / "cache"))
    for name in ("prepare", "faces"):
        get_stage(name)(cfg).run(RunOptions())
    return root, base / "cache"


def run_visual(root: Path, cache: Path, *extra: str):
    stage = get_stage("visual")(load_config(overrides=overrides(root, cache, *extra)))
    stage.run(RunOptions())
    return stage


def test_grid_rows_times_and_masks(corpus):
    root, cache = corpus
    grid = run_visual(root, cache, "visual.sample=grid", "align.hop=0.25")
    every = run_visual(root, cache, "visual.sample=all")
    assert grid.output.done and every.output.done and grid.output.path != every.output.path
    info = json.loads((grid.output.path / "backbones.json").read_text())
    assert set(info) == set(BACKBONES) and all(v["weights"] == "random" for v in info.values())
    assert "weights: random" in (grid.output.path / "config.yaml").read_text()
    assert "resnet50-tiny: random weights (weights=random)" in (grid.output.path / "log.txt").read_text()
    faces = grid.upstream_output("faces")
    for _, clip in grid.manifest.iterrows():
        frames, fps = int(clip["frames"]), float(clip["fps"])
        found = np.load(faces.clip_dir(clip["clip"]) / "faces.npz")["found"]
        for name in BACKBONES:
            g = load_series(grid.output.clip_dir(clip["clip"]) / f"{name}.npz")
            a = load_series(every.output.clip_dir(clip["clip"]) / f"{name}.npz")
            assert len(a.values) == frames and len(g.values) == Grid(0.25).num_steps(frames / fps)
            rows = np.rint(g.times * fps - 0.5).astype(int)
            np.testing.assert_allclose(g.times, (rows + 0.5) / fps)
            assert (Grid(0.25).index(g.times) == np.arange(len(rows))).all()  # one row in each grid step
            np.testing.assert_array_equal(a.mask, found)  # no face -> masked, never invented
            np.testing.assert_array_equal(g.mask, found[rows])
            assert not a.values[~a.mask].any() and np.isfinite(a.values).all()
            np.testing.assert_allclose(g.values, a.values[rows], rtol=2e-2, atol=2e-2)  # same frames, same features
    assert (~found).any()  # the corpus has frames without a face (the check above is not vacuous)
    with np.load(grid.output.clip_dir(clip["clip"]) / f"{BACKBONES[0]}.npz") as z:
        assert z["values"].dtype == np.float16


def test_grid_hop_is_in_the_fingerprint(corpus):
    root, cache = corpus
    cfg = lambda *x: load_config(overrides=overrides(root, cache, *x))  # noqa: E731
    visual = get_stage("visual")
    assert visual(cfg("align.hop=0.25")).fingerprint != visual(cfg("align.hop=0.5")).fingerprint
    assert visual(cfg("visual.sample=all", "align.hop=0.25")).fingerprint == \
        visual(cfg("visual.sample=all", "align.hop=0.5")).fingerprint
    assert visual(cfg("visual.workers=0")).fingerprint == visual(cfg("visual.workers=2")).fingerprint


def test_two_processes_write_what_one_process_writes(corpus, tmp_path):
    import torch

    root, cache = corpus
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the two processes below: another thread count changes float sums
    try:
        one = run_visual(root, cache, "align.hop=0.5")
    finally:
        torch.set_num_threads(threads)
    two = tmp_path / "cache"
    shutil.copytree(cache / "v" / "prepare", two / "v" / "prepare")
    shutil.copytree(cache / "v" / "faces", two / "v" / "faces")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "affect.cli", "visual",
                               *overrides(root, two, "align.hop=0.5", f"visual.shard={k}/2", "visual.workers=0")],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for k in range(2)]
    logs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert sum("shard 0/2" in log or "shard 1/2" in log for log in logs) == 2
    out = two / one.output.path.relative_to(cache)
    assert (out / "_done.json").is_file() and not list(out.glob(".work-*"))
    assert json.loads((out / "_done.json").read_text())["clips"] == one.output.done_clips()
    for clip in one.output.done_clips():
        for name in BACKBONES:
            with np.load(one.output.clip_dir(clip) / f"{name}.npz") as a, np.load(out / "clips" / clip / f"{name}.npz") as b:
                assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_bad_input_masks_frames_and_fails_clips(corpus, tmp_path, caplog):
    root, cache = corpus
    bad = tmp_path / "cache"
    shutil.copytree(cache / "v" / "prepare", bad / "v" / "prepare")
    shutil.copytree(cache / "v" / "faces", bad / "v" / "faces")
    clips = sorted(p for p in (bad / "v" / "faces").glob("*/clips/*") if p.is_dir())
    broken, missing = clips[0], clips[1]
    index = dict(np.load(broken / "crops_index.npz"))
    frame = int(np.flatnonzero(index["length"] > 0)[0])
    with open(broken / "crops.bin", "r+b") as f:  # frame `frame`'s JPEG becomes garbage
        f.seek(int(index["offset"][frame]))
        f.write(b"\0" * int(index["length"][frame]))
    (missing / "crops_index.npz").unlink()
    with caplog.at_level(logging.WARNING):
        stage = run_visual(root, bad, "visual.sample=all")
    assert stage.output.done
    assert f"{broken / 'crops.bin'}: frame {frame}: crop does not decode" in caplog.text
    s = load_series(stage.output.clip_dir(broken.name) / f"{BACKBONES[0]}.npz")
    assert not s.mask[frame] and s.mask.sum() > 0
    errors = (stage.output.path / "errors.csv").read_text()
    assert missing.name in errors and "crops_index.npz" in errors
    assert json.loads((stage.output.path / "_done.json").read_text())["failed"] == [missing.name]
    assert stage.output.clip_done(clips[2].name)


def test_non_finite_outputs_are_masked_and_logged(corpus, caplog):
    from affect.backbones.registry import create_backbone
    from affect.visual.extract import extract_clip

    root, cache = corpus
    crop_dir = next(p for p in sorted((cache / "v" / "faces").glob("*/clips/*")) if p.is_dir())
    bb = create_backbone("senet-tiny", weights="random")
    forward = bb.forward

    def nan_first_row(batch):
        out = forward(batch)
        out[0] = np.nan
        return out

    bb.forward = nan_first_row
    frames = len(np.load(crop_dir / "faces.npz")["found"])
    with caplog.at_level(logging.WARNING):
        feats = extract_clip(crop_dir, frames=frames, fps=25.0, hop=0, backbones=[bb], batch_size=8)
    s = feats.series["senet-tiny"]
    with_face = np.flatnonzero(np.load(crop_dir / "faces.npz")["found"])
    assert not s.mask[with_face[::8]].any()  # the first crop of every batch
    assert s.mask.sum() == len(with_face) - len(with_face[::8])
    assert "senet-tiny gave NaN/inf" in caplog.text


def test_sample_frames_one_per_step_preferring_faces():
    from affect.visual.sampling import sample_frames

    np.testing.assert_array_equal(sample_frames(25, 25.0, 0.25), [3, 9, 15, 21])  # nearest each step's centre
    has = np.ones(25, bool)
    has[[3, 9]] = False
    np.testing.assert_array_equal(sample_frames(25, 25.0, 0.25, has), [2, 8, 15, 21])  # a face in the step wins
    assert len(sample_frames(10, 25.0, 0.0)) == len(sample_frames(10, 5.0, 0.1)) == 10  # hop 0 / shorter than a frame
    rows = sample_frames(301, 29.97, 0.25)
    assert (Grid(0.25).index((rows + 0.5) / 29.97) == np.arange(Grid(0.25).num_steps(301 / 29.97))).all()


def test_shards_from_spec_or_torchrun_env(monkeypatch):
    from affect.shard import Shard, assign, current_shard

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert current_shard() == Shard(1, 3) and current_shard("0/2") == Shard(0, 2)
    with pytest.raises(ValueError):
        current_shard("2/2")
    ranks = assign([100, 10, 90, 20, 50], 2)
    assert list(ranks) == [0, 0, 1, 0, 1]  # longest first onto the least loaded: 130 vs 140 and list(assign([100, 10, 90, 20, 50], 2)) == list(ranks)
