"""The training loop: 2 gloo processes == 1 process; resume from `last` continues the same curve; bad input."""
import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from affect.train.config import TrainConfig
from affect.train.trainer import fit, model_spec

CFG = TrainConfig(window=24, stride=12, batch_size=6, epochs=3, lr=3e-3, warmup=3, hidden=16, layers=1,
                  dropout=0.0, patience=10, resume=True)


def _spec(aligned, kind="temporal", features=("face", "voice"), cfg=CFG):
    extra = {"model": "gru"} if kind == "temporal" else {"heads": 2, "modality_dropout": 0.0}
    return model_spec(kind, list(features), aligned, cfg, **extra)


def _worker(rank: int, world: int, port: int, aligned: str, run_dir: str, spec: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    fit(Path(run_dir), Path(aligned), spec, CFG, seed=3, name="ddp")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["fusion"])
def test_two_gloo_processes_match_one(aligned, tmp_path, kind):
    spec = _spec(aligned, kind)
    one = fit(tmp_path / "one", aligned, spec, CFG, seed=3, name="one")
    mp.spawn(_worker, args=(2, _free_port(), str(aligned), str(tmp_path / "two"), spec), nprocs=2, join=True)
    two = json.loads((tmp_path / "two" / "run.json").read_text())
    assert two["world"] == 2
    for a, b in zip(one["history"], two["history"], strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-4)
        assert a["p_va"] == pytest.approx(b["p_va"], abs=1e-4)
    wa = torch.load(tmp_path / "one" / "last.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "two" / "last.pt", weights_only=True)["model"]
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], atol=2e-3, rtol=1e-2)  # Adam magnifies rounding on ~0 gradients


def test_resume_from_last_continues_the_same_curve(aligned, tmp_path):
    cfg = replace(CFG, epochs=4, dropout=0.1)
    spec = _spec(aligned, "temporal", cfg=cfg)
    straight = fit(tmp_path / "a", aligned, spec, cfg, seed=1, name="a")
    stopped = fit(tmp_path / "b", aligned, spec, cfg, seed=1, name="b", stop_after=1)
    assert len(stopped["history"]) == 2 and not (tmp_path / "b" / "run.json").exists()
    resumed = fit(tmp_path / "b", aligned, spec, cfg, seed=1, name="b")
    keys = ("train_loss", "ccc_valence", "ccc_arousal", "p_va")
    np.testing.assert_allclose([[r[k] for k in keys] for r in resumed["history"]],
                               [[r[k] for k in keys] for r in straight["history"]], atol=1e-6)
    ckpt = torch.load(tmp_path / "b" / "best.pt", weights_only=True)
    assert {"model", "optimizer", "spec", "train", "norm", "epoch", "best"} <= set(ckpt)
    assert (tmp_path / "b" / "history.csv").read_text().count("\n") == 5  # header + 4 epochs, no duplicates
    assert fit(tmp_path / "b", aligned, spec, cfg, seed=1, name="b")["val"] == resumed["val"]  # finished: kept


def test_normalisation_uses_the_fitted_clips_only(aligned, tmp_path):
    from affect.train.data import SplitError, fit_normaliser, make_split, plan_split

    split = make_split(aligned)
    assert split.train == ["c00", "c01", "c02", "c03"] and split.validation == ["c04", "c05"] and split.dev == []
    inner = plan_split(aligned, -1)  # the default: an inner dev set of 1 of the 4 training videos
    assert len(inner.dev) == 1 and sorted(inner.train + inner.dev) == split.train and inner.validation == split.validation
    norm = fit_normaliser(aligned, inner.train, ["face"])
    spec = _spec(aligned, "temporal", ["face"], replace(CFG, epochs=1))
    record = fit(tmp_path / "r", aligned, spec, replace(CFG, epochs=1), name="r")
    assert record["train_clips"] == inner.train and record["dev_clips"] == inner.dev and record["selected_on"] == "dev"
    saved = torch.load(tmp_path / "r" / "best.pt", weights_only=True)["norm"]
    assert saved["face"]["mean"] == pytest.approx(norm["face"]["mean"])
    assert fit_normaliser(aligned, split.train, ["face"])["face"]["mean"] != pytest.approx(norm["face"]["mean"])
    # fold=k would train on the corpus's validation clips of the other folds (c04 or c05): refused in one line
    with pytest.raises(SplitError, match=r"train.fold=1 would train on 1 clip\(s\) of the corpus's validation split \(c04\)"):
        make_split(aligned, fold=1)


def test_bad_input_fails_before_training(aligned, tmp_path):
    from affect.train.data import make_split

    with pytest.raises(ValueError, match="unknown feature set.*'nope'.*available: face, voice, noise"):
        _spec(aligned, "temporal", ["nope"])
    np.save(aligned / "clips" / "c01" / "face.npy", np.full((96, 6), np.nan, np.float16))
    with pytest.raises(ValueError, match="NaN/inf in features of clip.*c01"):
        fit(tmp_path / "r", aligned, _spec(aligned, "temporal", ["face"]), CFG)
    for clip in ("c04", "c05"):
        np.save(aligned / "clips" / clip / "labels.npy", np.full((96, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="validation split has no labelled frames.*c04, c05"):
        fit(tmp_path / "r", aligned, _spec(aligned, "temporal", ["voice"]), CFG)
    info = json.loads((aligned / "clips" / "c04" / "grid.json").read_text())
    (aligned / "clips" / "c04" / "grid.json").write_text(json.dumps({**info, "video": "v00"}))
    with pytest.raises(ValueError, match="video.*in both train and validation: v00"):
        make_split(aligned)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 training needs CUDA")
def test_float16_training_on_cuda_tracks_float32_and_resumes(aligned, tmp_path):
    spec = _spec(aligned, "fusion")
    full = fit(tmp_path / "fp32", aligned, spec, replace(CFG, amp=False), seed=2, device="cuda", name="fp32")
    half = fit(tmp_path / "amp", aligned, spec, CFG, seed=2, device="cuda", name="amp")
    ckpt = torch.load(tmp_path / "amp" / "last.pt", weights_only=True)
    assert ckpt["scaler"]["scale"] > 0  # the gradient scaler's state is checkpointed
    losses = np.array([[r["train_loss"] for r in run["history"]] for run in (full, half)])
    assert np.isfinite(losses).all()
    np.testing.assert_allclose(losses[1], losses[0], atol=0.05)  # float16 follows the float32 curve


def test_amp_is_a_no_op_on_the_cpu(aligned, tmp_path):
    spec = _spec(aligned, "fusion")
    runs = [fit(tmp_path / str(amp), aligned, spec, replace(CFG, amp=amp), seed=2, name=str(amp)) for amp in (True, False)]
    assert runs[0]["history"][-1]["train_loss"] == runs[1]["history"][-1]["train_loss"]
    assert torch.load(tmp_path / "True" / "last.pt", weights_only=True)["scaler"] == {}
