"""Stage 07 `fusion`: the fusion model and both baselines train; a clip without audio predicts through masks."""
import numpy as np
import pandas as pd

from affect.config import load_config
from affect.stages import RunOptions
from test_unimodal import TRAIN, aligned_done, on_fake_upstream, run_unimodal  # noqa: F401


def test_fusion_and_baselines(tmp_path, aligned_done):
    from affect.stages.fusion import FusionStage
    from affect.train.runs import list_runs, predict_grid

    uni = run_unimodal(tmp_path, aligned_done, ["unimodal.features=[face,voice]"])
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=2",
                                 "unimodal.features=[face,voice]", *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "f" * 64)
    assert stage.run(RunOptions()).status == "ran"
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert set(results.index) == {"fusion", "baseline/early", "baseline/late", "unimodal/face"}
    assert results.loc["fusion", "features"] == "face+voice"
    assert results.loc["fusion", "p_va"] > results.loc["unimodal/face", "p_va"]
    runs = list_runs(stage.output.path)
    assert list(runs) == ["baseline/early", "baseline/late", "fusion"]
    clips = [f"c{i:02d}" for i in range(6)]
    for name, run in runs.items():
        preds = predict_grid(run, aligned_done, clips)
        assert set(preds) == set(clips)
        for p in preds.values():  # c01 (train) and c05 (validation) have no audio: masks, not NaN
            assert p.shape == (96, 2) and p.dtype == np.float32 and np.isfinite(p).all() and np.abs(p).max() <= 1
    late = predict_grid(runs["baseline/late"], aligned_done, ["c04"])["c04"]
    members = [predict_grid(uni.output.path / "runs" / "unimodal" / f, aligned_done, ["c04"])["c04"] for f in ("face", "voice")]
    np.testing.assert_allclose(late, (members[0] + members[1]) / 2, atol=1e-6)
