"""Stage 07 `fusion`: the fusion model and both baselines train; a clip without audio predicts through masks."""
import numpy as np
import pandas as pd
import pytest

from affect.config import load_config
from affect.stages import RunOptions
from test_unimodal import TRAIN, aligned_done, on_fake_upstream, run_unimodal  # noqa: F401


def test_fusion_and_baselines(tmp_path, aligned_done):
    from affect.stages.fusion import FusionStage
    from affect.train.runs import list_runs, predict_grid

    # selected on validation (explicitly): the stack's weights are fitted on the validation clips, each
    # scored with weights fitted without its video (the dev path: test_fusion_stack_fits_on_the_dev_set)
    select = ["unimodal.train.select=validation", "fusion.train.select=validation"]
    uni = run_unimodal(tmp_path, aligned_done, ["unimodal.features=[face,voice]", select[0]])
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=2", *select,
                                 "unimodal.features=[face,voice]", *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "f" * 64)
    assert stage.run(RunOptions()).status == "ran"
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert set(results["selected_on"]) == {"validation"}
    assert set(results.index) == {"fusion", "fusion/xattn", "baseline/early", "baseline/late", "unimodal/face"}
    assert results.loc["fusion", "features"] == "face+voice"
    assert results.loc["fusion", "p_va"] > results.loc["unimodal/face", "p_va"]
    runs = list_runs(stage.output.path)
    assert list(runs) == ["baseline/early", "baseline/late", "fusion", "fusion/xattn"]
    clips = [f"c{i:02d}" for i in range(6)]
    for name, run in runs.items():
        preds = predict_grid(run, aligned_done, clips)
        assert set(preds) == set(clips)
        for p in preds.values():  # c01 (train) and c05 (validation) have no audio: masks, not NaN
            assert p.shape == (96, 2) and p.dtype == np.float32 and np.isfinite(p).all() and np.abs(p).max() <= 1
    # the fused model: a per-dimension stack over the attention network and the sets' own regressors;
    # face alone carries valence and voice alone arousal, and the stack keeps that
    stack = read_run_json(runs["fusion"])
    assert stack["kind"] == "stack"
    assert [c["name"] for c in stack["candidates"]] == ["fusion/xattn", "unimodal/face", "unimodal/voice"]
    weights = np.asarray(stack["weights"])
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-6)
    assert weights[0, 2] < 0.2 and weights[1, 1] < 0.2, weights  # voice not for valence, face not for arousal
    assert sorted(stack["held_out"]) == ["c04", "c05"]  # each validation clip: weights fitted without its video
    assert results.loc["fusion", "ccc_valence"] >= results.loc["unimodal/face", "ccc_valence"] - 0.02
    tried = pd.read_csv(stage.output.path / "stacking.csv").set_index("stack")
    assert set(tried.index) == {"pair", "blend", "pick", "off", "auto"}
    assert tried.loc["auto", "p_va"] == pytest.approx(results.loc["fusion", "p_va"], abs=1e-5)
    assert tried.loc["off", "p_va"] == pytest.approx(results.loc["fusion/xattn", "p_va"], abs=1e-5)
    late = predict_grid(runs["baseline/late"], aligned_done, ["c04"])["c04"]
    members = [predict_grid(uni.output.path / "runs" / "unimodal" / f, aligned_done, ["c04"])["c04"] for f in ("face", "voice")]
    np.testing.assert_allclose(late, (members[0] + members[1]) / 2, atol=1e-6)


def test_fusion_stack_fits_on_the_dev_set(tmp_path, aligned_done):
    """By default (train.select=dev) the stack's weights are fitted on the inner development set, never
    on the validation clips it is scored on."""
    from affect.stages.fusion import FusionStage
    from affect.train.runs import list_runs

    uni = run_unimodal(tmp_path, aligned_done, ["unimodal.features=[face,voice]"])
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=2",
                                 "fusion.baselines=false", "unimodal.features=[face,voice]",
                                 *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "f" * 64)
    assert stage.run(RunOptions()).status == "ran"
    stack = read_run_json(list_runs(stage.output.path)["fusion"])
    assert stack["selected_on"] == "dev" and stack["dev_clips"]
    assert not set(stack["dev_clips"]) & set(stack["validation_clips"])
    assert set(stack["held_out"]) <= set(stack["dev_clips"])
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert results.loc["fusion", "selected_on"] == "dev"


def test_a_narrow_attention_network_on_the_top_sets_is_a_stack_candidate(tmp_path, aligned_done):
    """With fusion.narrow_k below top_k, a second attention network trains on the top narrow_k sets (here the
    best set on valence and the best on arousal, leaving out the noise) and the stack weighs it beside
    fusion/xattn and the unimodal regressors."""
    from affect.stages.fusion import FusionStage
    from affect.train.runs import list_runs

    uni = run_unimodal(tmp_path, aligned_done)
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=3", "fusion.narrow_k=1",
                                 "fusion.per_modality=false", "fusion.baselines=false", *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "f" * 64)
    assert stage.run(RunOptions()).status == "ran"
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert set(results.loc["fusion/xattn", "features"].split("+")) == {"face", "voice", "noise"}
    assert set(results.loc["fusion/xattn-narrow", "features"].split("+")) == {"face", "voice"}
    narrow = read_run_json(list_runs(stage.output.path)["fusion/xattn-narrow"])
    assert set(narrow["spec"]["features"]) == {"face", "voice"}
    stack = read_run_json(list_runs(stage.output.path)["fusion"])
    names = [c["name"] for c in stack["candidates"]]
    assert names[:2] == ["fusion/xattn", "fusion/xattn-narrow"]
    assert sorted(names[2:]) == ["unimodal/face", "unimodal/noise", "unimodal/voice"]
    assert np.asarray(stack["weights"]).shape == (2, 5)
    # narrow_k=0, or a narrow_k giving the same sets, trains no second network
    for k in (0, 3):
        off = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=3",
                                     "fusion.per_modality=false",
                                     f"fusion.narrow_k={k}", *(f"fusion.train.{t}" for t in TRAIN)])
        assert FusionStage(off).narrow(uni.output.path, ["face", "noise", "voice"]) == []


def test_seeds_hold_out_other_videos_and_the_stack_fits_on_all_of_them(tmp_path, aligned_done):
    """Cross-fitting (train.dev_rotate): each seed holds out its own training video, the stack fits on every
    clip some seed held out, and a dev clip's candidate is the seed that held it out, never one fitted on it."""
    from affect.stages.fusion import FusionStage
    from affect.train.runs import candidate_predictions, list_runs, predict_grid

    seeds = ["unimodal.features=[face,voice]", "unimodal.seeds=2"]
    uni = run_unimodal(tmp_path, aligned_done, seeds)
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=2", "fusion.seeds=2",
                                 "fusion.baselines=false", "fusion.stack=auto", *seeds,
                                 *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "c" * 64)
    assert stage.run(RunOptions()).status == "ran"
    runs = list_runs(stage.output.path)
    x = [read_run_json(runs[f"fusion/xattn@seed{k}"]) for k in (0, 1)]
    assert x[0]["dev_clips"] and x[1]["dev_clips"] and not set(x[0]["dev_clips"]) & set(x[1]["dev_clips"])
    assert set(x[0]["dev_clips"]) <= set(x[1]["train_clips"])  # held out by seed 0, fitted on by seed 1
    stack = read_run_json(runs["fusion"])
    assert sorted(stack["dev_clips"]) == sorted(x[0]["dev_clips"] + x[1]["dev_clips"])  # the union of both groups
    assert sorted(stack["held_out"]) == sorted(stack["dev_clips"]) and len(stack["modes"]) == 2
    assert stack["mode"] == "auto" and set(stack["modes"]) <= {"pair", "blend", "pick", "off"}
    clip = x[0]["dev_clips"][0]
    dirs = [runs[f"fusion/xattn@seed{k}"] for k in (0, 1)]
    alone = predict_grid(dirs[0], aligned_done, [clip])[clip]
    np.testing.assert_allclose(candidate_predictions(dirs, aligned_done, [clip])[clip], alone, atol=1e-6)
    val = stack["validation_clips"][0]  # a clip neither seed saw: their mean
    both = [predict_grid(d, aligned_done, [val])[val] for d in dirs]
    np.testing.assert_allclose(candidate_predictions(dirs, aligned_done, [val])[val], np.mean(both, axis=0), atol=1e-6)
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert results.loc["fusion", "selected_on"] == "dev" and "auto: V " in results.loc["fusion", "stack"]


def test_fusion_seeds_train_members_scored_as_their_mean(tmp_path, aligned_done):
    from affect.report.ensemble import group_runs
    from affect.stages.fusion import FusionStage
    from affect.train.data import make_split
    from affect.train.runs import list_runs, predict_grid
    from affect.train.trainer import validate

    uni = run_unimodal(tmp_path, aligned_done, ["unimodal.features=[face,voice]"])
    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=2", "fusion.seeds=2",
                                 "seed=5", "unimodal.features=[face,voice]", *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "e" * 64)
    assert stage.run(RunOptions()).status == "ran"
    runs = list_runs(stage.output.path)
    assert list(runs) == ["baseline/early@seed0", "baseline/early@seed1", "baseline/late", "fusion",
                          "fusion/xattn@seed0", "fusion/xattn@seed1"]
    assert list(group_runs(runs)) == ["baseline/early", "baseline/late", "fusion", "fusion/xattn"]  # what stage 08 predicts
    val = make_split(aligned_done).validation
    members = [predict_grid(runs[f"fusion/xattn@seed{k}"], aligned_done, val) for k in (0, 1)]
    assert not np.allclose(members[0][val[0]], members[1][val[0]])  # seeds 5 and 6: two different models
    mean = {c: (members[0][c] + members[1][c]) / 2 for c in val}
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert results.loc["fusion/xattn", "members"] == 2 and results.loc["baseline/late", "members"] == 2
    assert results.loc["fusion/xattn", "p_va"] == pytest.approx(validate(mean, aligned_done, val)["p_va"], abs=1e-6)


def test_cross_validation_trains_a_run_per_fold_and_scores_out_of_fold(tmp_path, aligned_done):
    from affect.stages.fusion import FusionStage
    from affect.train.aligned import load_clip
    from affect.train.runs import list_runs, predict_grid
    from affect.train.trainer import validate

    # one dev group per fold: with 3 training clips a fold, a second seed's group would leave only the two
    # clips without audio to fit the voice set on
    cv = ["unimodal.features=[face,voice]", "unimodal.train.cv=true", "unimodal.train.dev_rotate=false"]
    uni = run_unimodal(tmp_path, aligned_done, cv)
    runs = list_runs(uni.output.path)
    assert list(runs) == [f"unimodal/{f}@fold{k}" for f in ("face", "voice") for k in (0, 1)]
    fold_of = {c: load_clip(aligned_done, c, features=[]).info["fold"] for c in (f"c{i:02d}" for i in range(6))}
    for k in (0, 1):  # fold k's run trained on the other fold only (an inner dev video of it held out of fitting)
        record = read_run_json(runs[f"unimodal/face@fold{k}"])
        assert set(record["train_clips"] + record["dev_clips"]) == {c for c, f in fold_of.items() if f != k}
        assert record["dev_clips"] and not set(record["dev_clips"]) & set(record["train_clips"])
        assert not set(record["train_clips"] + record["dev_clips"]) & set(record["validation_clips"])
    out_of_fold = {}
    for k in (0, 1):
        out_of_fold.update(predict_grid(runs[f"unimodal/face@fold{k}"], aligned_done,
                                        [c for c, f in fold_of.items() if f == k]))
    ranking = pd.read_csv(uni.output.path / "ranking.csv").set_index("feature")
    assert set(out_of_fold) == set(fold_of)  # every labelled clip, train and validation split alike
    assert ranking.loc["face", "val_p_va"] == pytest.approx(validate(out_of_fold, aligned_done, sorted(fold_of))["p_va"],
                                                            abs=1e-6)
    assert ranking.loc["face", "val_clips"] == 6 and ranking.loc["face", "ranked_on"] == "dev"

    cfg = load_config(overrides=[f"cache_root={tmp_path / 'cache'}", "device=cpu", "fusion.top_k=2", "fusion.seeds=2",
                                 *cv, "fusion.train.cv=true", "fusion.train.dev_rotate=false",
                                 *(f"fusion.train.{t}" for t in TRAIN)])
    stage = on_fake_upstream(FusionStage, cfg, {"align": aligned_done, "unimodal": uni.output.path}, "d" * 64)
    assert stage.run(RunOptions()).status == "ran"
    runs = list_runs(stage.output.path)
    assert [r for r in runs if r.startswith("fusion/")] == [f"fusion/xattn@fold{k}-seed{s}" for k in (0, 1) for s in (0, 1)]
    assert [r for r in runs if r.startswith("fusion@")] == ["fusion@fold0", "fusion@fold1"]  # one stack per fold
    assert [r for r in runs if r.startswith("baseline/late")] == ["baseline/late@fold0", "baseline/late@fold1"]
    fused = {}
    for k in (0, 1):
        clips = [c for c, f in fold_of.items() if f == k]
        members = [predict_grid(runs[f"fusion/xattn@fold{k}-seed{s}"], aligned_done, clips) for s in (0, 1)]
        fused.update({c: (members[0][c] + members[1][c]) / 2 for c in clips})
    results = pd.read_csv(stage.output.path / "results.csv").set_index("model")
    assert results.loc["fusion/xattn", "members"] == 4
    assert results.loc["fusion/xattn", "p_va"] == pytest.approx(validate(fused, aligned_done, sorted(fold_of))["p_va"], abs=1e-6)

    mixed = load_config(overrides=[f"cache_root={tmp_path / 'cache2'}", "device=cpu", *cv])  # fusion without cv
    with pytest.raises(ValueError, match="cv=False but the unimodal runs used fold=-1 cv=True"):
        on_fake_upstream(FusionStage, mixed, {"align": aligned_done, "unimodal": uni.output.path}, "c" * 64).execute(
            None, RunOptions())
    other = load_config(overrides=[f"cache_root={tmp_path / 'cache3'}", "device=cpu", *cv, "fusion.train.cv=true",
                                   "fusion.train.select=validation"])
    with pytest.raises(ValueError, match="select=validation dev_fraction=0.2 dev_rotate=True but the unimodal runs used select=dev"):
        on_fake_upstream(FusionStage, other, {"align": aligned_done, "unimodal": uni.output.path}, "b" * 64).execute(
            None, RunOptions())


def read_run_json(run_dir):
    import json

    return json.loads((run_dir / "run.json").read_text())
