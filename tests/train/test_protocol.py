"""The split protocol: an inner development set carved from training videos (by video, `_left`/`_right`
together, deterministic), cross-validation dev sets from the training folds, and the choices made on it."""
import json
from dataclasses import replace

import pytest

from aligned_fixture import make_aligned
from affect.train.config import TrainConfig
from affect.train.data import SplitError, make_split, plan_split

CFG = TrainConfig(window=24, stride=12, batch_size=6, epochs=2, lr=3e-3, warmup=2, hidden=8, layers=1, dropout=0.0)


def set_info(align, clip, **fields):
    path = align / "clips" / clip / "grid.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


@pytest.fixture
def paired(tmp_path):
    """10 clips: 4 two-person training videos (p0..p3, a _left and a _right clip each), one validation video."""
    align = make_aligned(tmp_path / "align", clips=10)
    for i in range(10):
        set_info(align, f"c{i:02d}", video=f"p{i // 2}", split="train" if i < 8 else "validation", fold=(i // 2) % 2)
    return align


def video_of(align, clips):
    return {c: json.loads((align / "clips" / c / "grid.json").read_text())["video"] for c in clips}


def test_inner_dev_set_is_whole_training_videos_and_deterministic(paired):
    split = plan_split(paired, -1, "dev", 0.5)
    videos = video_of(paired, split.train + split.dev + split.validation)
    dev_videos = {videos[c] for c in split.dev}
    assert len(dev_videos) == 2 and len(split.dev) == 4  # half the 4 training videos, both sides of each
    assert not dev_videos & {videos[c] for c in split.train}  # a video is fitted on or held out, never both
    assert not set(split.dev) & set(split.validation) and split.validation == ["c08", "c09"]
    assert sorted(split.train + split.dev) == make_split(paired).train
    assert plan_split(paired, -1, "dev", 0.5) == split  # the same corpus gives the same set
    small = plan_split(paired, -1, "dev", 0.2)
    assert len({videos[c] for c in small.dev}) == 1 and len(small.dev) == 2  # at least one video
    assert set(small.dev) <= set(split.dev)  # growing the share adds videos, keeps the first ones
    assert plan_split(paired, -1, "validation").dev == [] and plan_split(paired, -1, "validation").selected_on == "validation"
    with pytest.raises(SplitError, match="train.select must be one of dev, validation, got 'test'"):
        plan_split(paired, -1, "test")
    for i in range(2, 8):  # a single training video (a --limit 2 run): no dev set, selection on validation (marked)
        set_info(paired, f"c{i:02d}", split="test")
    assert plan_split(paired, -1, "dev").selected_on == "validation"


def test_each_seed_holds_out_its_own_group_of_training_videos(paired):
    """train.dev_rotate (the default): seed k holds out group k, so 2 seeds at 0.5 choose on every training
    video, each held out by exactly one seed and fitted on by the other; dev_rotate=false: the same group."""
    from affect.train.members import plan_members

    members = plan_members("m", paired, replace(CFG, dev_fraction=0.5), seed=0, seeds=2)
    training = make_split(paired).train
    devs = [set(m.split.dev) for m in members]
    assert devs[0] and devs[1] and not devs[0] & devs[1] and devs[0] | devs[1] == set(training)
    for m in members:
        assert sorted(m.split.train + m.split.dev) == training and m.split.validation == ["c08", "c09"]
        videos = video_of(paired, training)
        assert not {videos[c] for c in m.split.dev} & {videos[c] for c in m.split.train}  # by video
    assert members[0].split == plan_split(paired, -1, "dev", 0.5)  # seed 0: the single-run dev set
    fixed = plan_members("m", paired, replace(CFG, dev_fraction=0.5, dev_rotate=False), seed=0, seeds=2)
    assert fixed[0].split == fixed[1].split == members[0].split
    three = plan_members("m", paired, replace(CFG, dev_fraction=0.25), seed=0, seeds=3)  # 4 groups of 1 video
    assert [len(m.split.dev) for m in three] == [2, 2, 2] and len(set().union(*(m.split.dev for m in three))) == 6


def test_cross_validation_dev_sets_come_from_each_fold_runs_training_folds(paired):
    from affect.train.members import plan_members

    members = plan_members("m", paired, replace(CFG, cv=True), seed=0, seeds=2)
    assert [m.run for m in members] == ["m@fold0-seed0", "m@fold0-seed1", "m@fold1-seed0", "m@fold1-seed1"]
    fold = {c: json.loads((paired / "clips" / c / "grid.json").read_text())["fold"] for c in video_of(paired, [f"c{i:02d}" for i in range(10)])}
    for k, m in zip((0, 0, 1, 1), members):
        assert set(m.split.validation) == {c for c, f in fold.items() if f == k}
        assert set(m.split.train + m.split.dev) == {c for c, f in fold.items() if f != k}  # from the training folds
        assert m.split.dev and not set(m.split.dev) & set(m.split.train)
        videos = video_of(paired, m.split.dev + m.split.train)
        assert not {videos[c] for c in m.split.dev} & {videos[c] for c in m.split.train}


def test_a_corpus_without_validation_clips_is_refused_in_one_line_or_validated_on_folds(paired):
    from affect.train.members import plan_members

    for i in (8, 9):
        set_info(paired, f"c{i:02d}", split="train")
    with pytest.raises(SplitError) as e:
        plan_split(paired, -1)
    assert "\n" not in str(e.value) and "no validation clips" in str(e.value) and "train.cv=true" in str(e.value)
    members = plan_members("m", paired, replace(CFG, cv=True), seed=0)  # what the line suggests works
    assert [len(m.split.validation) for m in members] == [6, 4]


def test_fit_chooses_the_epoch_on_the_dev_set_and_scores_validation_once(paired, tmp_path):
    from affect.train.runs import predict_grid
    from affect.train.trainer import fit, model_spec, validate

    spec = model_spec("temporal", ["face"], paired, CFG, model="gru")
    split = plan_split(paired, -1, "dev", 0.25)
    record = fit(tmp_path / "r", paired, spec, CFG, seed=1, name="r", split=split)
    assert record["selected_on"] == "dev" and record["dev_clips"] == split.dev and "grid CCC" in record["metric"]
    assert all(row["scored_on"] == "dev" for row in record["history"])
    best = next(r for r in record["history"] if r["epoch"] == record["best_epoch"])
    assert record["selection"]["p_va"] == best["p_va"] and record["selection"]["clips"] == 2
    assert max(r["p_va"] for r in record["history"]) == best["p_va"]  # the best epoch on the dev set
    val = validate(predict_grid(tmp_path / "r", paired, split.validation), paired, split.validation)
    assert record["val"] == pytest.approx(val) and record["val"]["clips"] == 2  # best.pt on validation, once

    on_val = fit(tmp_path / "v", paired, spec, CFG, seed=1, name="v", split=plan_split(paired, -1, "validation"))
    assert on_val["selected_on"] == "validation" and on_val["dev_clips"] == [] and on_val["val"] == on_val["selection"]
