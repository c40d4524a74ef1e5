"""Stages 06-07 under the protocol: a corpus without validation clips, selection on validation marked."""
import json

import pandas as pd
import pytest

from affect.config import load_config
from affect.stages import RunOptions
from affect.stages.base import InputError
from test_unimodal import TRAIN, aligned_done, on_fake_upstream, run_unimodal  # noqa: F401


def test_a_train_set_only_corpus_stops_stage_06_with_one_line(tmp_path, aligned_done):
    from affect.stages.unimodal import UnimodalStage

    for clip in ("c04", "c05"):  # no Validation_Set: every labelled clip is a training clip
        path = aligned_done / "clips" / clip / "grid.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "split": "train"}))
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu"])
    with pytest.raises(InputError) as e:
        on_fake_upstream(UnimodalStage, cfg, {"align": aligned_done}, "u" * 64).run(RunOptions())
    message = str(e.value)
    assert "\n" not in message and message.startswith("stage 06 unimodal: the corpus has no validation clips")
    assert "unimodal.train.cv=true fusion.train.cv=true" in message


def test_selection_on_validation_is_marked_in_the_ranking_and_results(tmp_path, aligned_done):
    from affect.stages.fusion import FusionStage

    select = ["unimodal.features=[face,voice]", "unimodal.train.select=validation", "unimodal.train.epochs=3"]
    uni = run_unimodal(tmp_path, aligned_done, select)
    ranking = pd.read_csv(uni.output.path / "ranking.csv").set_index("feature")
    assert (ranking["ranked_on"] == "validation").all() and (ranking["clips"] == 2).all()
    assert (ranking["p_va"] == ranking["val_p_va"]).all()  # chosen on the figures it reports
    assert "selected on validation" in (uni.output.path / "ranking.md").read_text()
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=1",
                                 "fusion.train.select=validation", *select, "fusion.train.epochs=3",
                                 *(f"fusion.train.{t}" for t in TRAIN if not t.startswith("epochs"))])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "f" * 64)
    assert stage.run(RunOptions()).status == "ran"
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert (results["selected_on"] == "validation").all() and (results["clips"] == 2).all()
    assert results["same_clips"].all() and {"valid_steps", "seeds", "dev_p_va"} <= set(results.columns)
