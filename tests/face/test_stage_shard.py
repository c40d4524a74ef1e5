"""Stage 01 shared by two processes (`faces.shard=k/n`): each takes its clips, the last marks it done."""
import json

import pytest

from affect.config import load_config
from affect.stages import RunOptions, get_stage


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from affect.synth.corpus import generate_corpus

    root = tmp_path_factory.mktemp("synth") / "corpus"
    generate_corpus(root, clips=2, seconds=2.0, seed=3, cropped_aligned=False)
    return root


def run(root, cache, *extra):
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={cache}", "corpus.name=s", "prepare.folds=2",
                                 "faces.size=64", "faces.max_side=128", "faces.reid=geometry", "device=cpu", *extra])
    get_stage("prepare")(cfg).run(RunOptions())
    stage = get_stage("faces")(cfg)
    return stage, stage.run(RunOptions())


def test_two_shards_write_every_clip_once_and_the_last_marks_done(corpus, tmp_path):
    first, report = run(corpus, tmp_path, "faces.shard=0/2")
    clips = list(first.manifest["clip"])
    mine = set(first.output.done_clips())
    assert report.status == "ran" and not first.output.done and 0 < len(mine) < len(clips)
    assert (first.output.path / "summary.csv").exists() is False
    second, report = run(corpus, tmp_path, "faces.shard=1/2")
    assert second.output.path == first.output.path  # the shard is a speed knob: same folder
    assert second.output.done and sorted(second.output.done_clips()) == sorted(clips)
    assert set(second.output.done_clips()) - mine  # the second shard did the others
    done = json.loads((second.output.path / "_done.json").read_text())
    assert sorted(done["clips"]) == sorted(clips) and not list(second.output.path.glob(".work-*"))
    assert (second.output.path / "summary.csv").is_file()
