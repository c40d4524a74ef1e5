"""Stage 06 `unimodal` ranks a strong feature set above pure noise (on a tiny stage-05 folder)."""
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from affect.cache import StageDir
from affect.config import load_config
from affect.stages import RunOptions

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from aligned_fixture import make_aligned  # noqa: E402

TRAIN = ["window=32", "stride=16", "batch_size=4", "epochs=12", "warmup=4", "hidden=16", "layers=1", "lr=0.005"]


def on_fake_upstream(cls, cfg, upstream: dict[str, Path], fingerprint: str):
    """The stage class with its upstream folders given (fingerprints fixed), to test it alone."""
    class Stage(cls):
        def upstream_output(self, name):
            return StageDir(upstream[name], json.loads((upstream[name] / "_done.json").read_text())["fingerprint"])

    Stage.fingerprint = fingerprint
    return Stage(cfg)


@pytest.fixture
def aligned_done(tmp_path):
    align = make_aligned(tmp_path / "align")
    (align / "_done.json").write_text(json.dumps({"fingerprint": "a" * 64}))
    return align


def run_unimodal(tmp_path, align, extra=()):
    from affect.stages.unimodal import UnimodalStage

    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", *extra,
                                 *(f"unimodal.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(UnimodalStage, cfg, {"align": align}, "u" * 64)
    assert stage.run(RunOptions()).status == "ran"
    return stage


def test_strong_feature_ranks_above_noise(tmp_path, aligned_done):
    stage = run_unimodal(tmp_path, aligned_done)
    ranking = pd.read_csv(stage.output.path / "ranking.csv")
    assert ranking["feature"].tolist()[-1] == "noise"
    scores = ranking.set_index("feature")["p_va"]
    assert scores["face"] > scores["noise"] + 0.2 and scores["voice"] > scores["noise"] + 0.1
    assert (stage.output.path / "ranking.md").read_text().startswith("# Unimodal ranking (gru)")
    from affect.train.runs import list_runs

    assert list(list_runs(stage.output.path)) == ["unimodal/face", "unimodal/noise", "unimodal/voice"]
    history = pd.read_csv(stage.output.path / "runs" / "unimodal" / "face" / "history.csv")
    assert {"epoch", "train_loss", "p_va", "lr", "windows_per_s"} <= set(history.columns)
