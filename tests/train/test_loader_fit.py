"""Training settings fitted to the data: window and batch capped, loader processes capped, said once."""
import json
import logging
import warnings

import torch

from aligned_fixture import make_aligned
from affect.train.config import TrainConfig
from affect.train.data import SMALL_ARRAYS, fit_loader
from affect.train.trainer import fit, model_spec


def test_window_stride_batch_and_workers_are_capped():
    plan = fit_loader([24, 24, 20, 24, 22], window=64, stride=32, batch_size=32, workers=4, data_bytes=10_000, cores=2)
    assert (plan.window, plan.stride, plan.batch_size, plan.workers) == (24, 24, 2, 0)
    text = "; ".join(plan.changes)
    assert "window 64 -> 24" in text and "batch 32 -> 2 (5 training windows, 3 steps per epoch)" in text
    assert "workers 4 -> 0 (training arrays 0.0 MB, memory-mapped" in text
    big = SMALL_ARRAYS + 1
    assert fit_loader([400] * 50, 64, 32, 32, 4, data_bytes=big, cores=16).changes == []  # nothing to change
    assert fit_loader([400] * 50, 64, 32, 32, 4, data_bytes=big, cores=2).workers == 1  # the cores less the trainer's
    assert fit_loader([30], 64, 32, 32, 0, world=2).batch_size == 2  # a window for every process


def test_fit_on_short_clips_caps_once_and_builds_one_loader(tmp_path, monkeypatch, caplog):
    aligned = make_aligned(tmp_path / "align", steps=24)  # 6 s clips on the 0.25 s grid
    cfg = TrainConfig(window=64, stride=32, batch_size=32, workers=4, epochs=4, warmup=2, hidden=8, layers=1,
                      patience=10)
    made = []

    class Counting(torch.utils.data.DataLoader):
        def __init__(self, *args, **kwargs):
            made.append(kwargs.get("num_workers"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(torch.utils.data, "DataLoader", Counting)
    spec = model_spec("fusion", ["face", "voice"], aligned, cfg, heads=2, modality_dropout=0.0)
    with caplog.at_level(logging.INFO, logger="affect.train.trainer"), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        record = fit(tmp_path / "run", aligned, spec, cfg, seed=0, name="short")
    assert made == [0]  # one loader for the run, no processes for 4 small memory-mapped clips
    assert record["spec"]["window"] == 24 and record["epochs_run"] == 4
    fitted = [r for r in caplog.records if "fitted to the training set" in r.getMessage()]
    assert len(fitted) == 1 and "window 64 -> 24" in fitted[0].getMessage()
    assert not [w for w in seen if "worker" in str(w.message)]
    history = [json.loads((tmp_path / "run" / "run.json").read_text())["history"][e]["epoch"] for e in range(4)]
    assert history == [0, 1, 2, 3]
    ckpt = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert ckpt["spec"]["window"] == 24 and ckpt["train"]["batch_size"] == 1  # 4 windows: 4 steps per epoch
