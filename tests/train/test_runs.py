"""The API stage 08 uses: list_runs, predict_grid (on each clip's grid, clipped, float32)."""
from dataclasses import replace

import numpy as np
import pytest

from affect.train.config import TrainConfig
from affect.train.runs import list_runs, predict_grid
from affect.train.trainer import fit, model_spec


def test_list_and_predict(aligned, tmp_path):
    cfg = TrainConfig(window=24, stride=12, batch_size=6, epochs=1, hidden=8, layers=1, warmup=1)
    stage = tmp_path / "stage"
    assert list_runs(stage) == {}
    spec = model_spec("temporal", ["face", "voice"], aligned, replace(cfg, audio_frontend="conv"), model="tcn")
    assert spec["substeps"] == {"voice": 4}  # the learned strided conv reads voice's sub-steps
    fit(stage / "runs" / "unimodal" / "face", aligned, spec, cfg, name="unimodal/face")
    runs = list_runs(stage)
    assert runs == {"unimodal/face": stage / "runs" / "unimodal" / "face"}
    preds = predict_grid(runs["unimodal/face"], aligned, ["c01", "c04"])
    assert [p.shape for p in preds.values()] == [(96, 2), (96, 2)]
    assert all(p.dtype == np.float32 and np.abs(p).max() <= 1 for p in preds.values())
    with pytest.raises(ValueError, match="clip.*not in.*: nope"):
        predict_grid(runs["unimodal/face"], aligned, ["nope"])
    with pytest.raises(FileNotFoundError, match="run.json missing"):
        predict_grid(tmp_path, aligned, ["c01"])
