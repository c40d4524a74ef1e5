"""`--limit N`: the whole pipeline on N clips, then a full run that completes the same folders.

Two pipelines: small fake stages registered for the test (per-clip, training, per-clip on the
trained model: every case of partial input, fast), and every registered stage on the synth corpus.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import affect.stages as stages_pkg
from affect.cache import atomic
from affect.cli import main
from affect.config import load_config
from affect.stages import get_stage, stage_names
from affect.stages.base import PARTIAL, RunOptions, Stage, StageReport, balanced_first
from affect.stages.clip_stage import ClipStage
from affect.cli.status import collect

FAST = ["faces.size=64", "prepare.folds=2", "faces.source=provided",  # the corpus's own crops: no detector
        "speech.weights=random", "speech.backbones=[egemaps]",  # no weights to download
        "visual.weights=random", "visual.backbones=[resnet50-tiny]", "visual.workers=0",
        *[f"{s}.train.{k}" for s in ("unimodal", "fusion") for k in ("epochs=2", "window=8", "stride=4")]]


@dataclass
class FakeSection:
    scale: int = 1


class FakeClips(ClipStage):
    name, number = "fake_clips", 50

    def section(self) -> Any:
        return FakeSection()

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        (out / "value.txt").write_text(clip["clip"])
        return {"frames": int(clip["frames"])}


class FakeTrain(Stage):
    name, number, requires = "fake_train", 51, ("prepare", "fake_clips")

    def section(self) -> Any:
        return FakeSection()

    def execute(self, out, opts: RunOptions) -> StageReport:
        clips = list(self.upstream_clips("fake_clips")["clip"])  # whatever the upstream has
        atomic.write_json(out.path / "model.json", {"clips": clips})
        out.mark_done({"clips": len(clips)})
        return StageReport(self.name, out.path, "ran", len(clips))


class FakePredict(ClipStage):
    name, number, requires = "fake_predict", 52, ("prepare", "fake_train")

    def section(self) -> Any:
        return FakeSection()

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        model = json.loads((self.upstream_output("fake_train").path / "model.json").read_text())
        return {"trained_on": len(model["clips"])}


@pytest.fixture
def fake_pipeline(monkeypatch):
    """Only prepare and the fake stages are registered while the test runs."""
    for name in list(stages_pkg.STAGES):
        if name != "prepare":
            monkeypatch.delitem(stages_pkg.STAGES, name)
    for number, cls in enumerate((FakeClips, FakeTrain, FakePredict), start=50):
        monkeypatch.setitem(stages_pkg.STAGES, cls.name, (number, f"{__name__}:{cls.__name__}"))
        monkeypatch.setitem(stages_pkg.DESCRIPTIONS, cls.name, f"{number} a fake stage")


def mtimes(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def states(cfg) -> dict[str, tuple[str, str]]:
    return {r.name: (r.state, r.clips) for r in collect(cfg)}


def test_balanced_first_takes_splits_in_turn():
    rows = pd.DataFrame({"clip": list("abcdefg"), "split": ["train"] * 4 + ["validation", "test", "validation"]})
    assert list(balanced_first(rows, 2)["clip"]) == ["a", "e"]
    assert list(balanced_first(rows, 4)["clip"]) == ["a", "b", "e", "f"]  # in table order
    assert list(balanced_first(rows, 6)["clip"]) == ["a", "b", "c", "e", "f", "g"]
    assert list(balanced_first(rows, 9)["clip"]) == list("abcdefg")
    assert balanced_first(rows, 3).equals(balanced_first(rows, 3))


def test_partial_training_is_redone_and_clips_are_kept(fake_pipeline, synth_corpus, tmp_path, caplog):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=fake"]
    cfg = load_config(overrides=args)
    assert states(cfg)["fake_clips"] == ("not run", "-")

    assert main(["run", "--limit", "2", *args]) == 0
    clips, train, predict = (get_stage(n)(cfg) for n in ("fake_clips", "fake_train", "fake_predict"))
    assert states(cfg) == {"prepare": ("done", "6"), "fake_clips": ("partial", "2/6"),
                           "fake_train": ("partial", "-"), "fake_predict": ("partial", "2/6")}
    chosen = list(clips.selected_clips(2)["clip"])
    assert set(clips.selected_clips(2)["split"]) == {"train", "validation"}
    assert clips.output.done_clips() == sorted(chosen)
    assert json.loads((train.output.path / "model.json").read_text())["clips"] == chosen
    marker = json.loads((predict.output.path / PARTIAL).read_text())
    assert marker["tainted"] and marker["partial_inputs"] == ["fake_train"]
    assert not json.loads((clips.output.path / PARTIAL).read_text())["tainted"]

    before = mtimes(tmp_path)
    caplog.clear()
    assert main(["run", "--limit", "2", *args]) == 0  # the same partial run again: nothing to do
    assert caplog.text.count("already done for this --limit run") == 3
    assert mtimes(tmp_path) == before

    kept = mtimes(clips.output.path / "clips")  # the clip folders and their files
    redone = mtimes(predict.output.path / "clips")
    assert main(["run", *args]) == 0
    after = mtimes(tmp_path)
    assert {p: after[p] for p in kept} == kept  # the two clips' results are reused
    assert all(after.get(p) != t for p, t in redone.items() if p.is_file())  # built on a 2-clip model: redone
    assert len(json.loads((train.output.path / "model.json").read_text())["clips"]) == 6
    assert {json.loads((predict.output.clip_dir(c) / "summary.json").read_text())["trained_on"]
            for c in predict.output.done_clips()} == {6}
    assert all(state == "done" for state, _ in states(cfg).values())
    assert not list(tmp_path.rglob(PARTIAL))


def test_full_run_refuses_partial_upstream(fake_pipeline, synth_corpus, tmp_path, caplog):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=fake"]
    assert main(["run", "--limit", "1", "--stop-stage", "fake_clips", *args]) == 0
    assert main(["fake_train", *args]) == 2
    assert "which is only partial for this config" in caplog.text
    assert main(["fake_train", "--limit", "1", *args]) == 0


def test_every_stage_on_two_clips_then_the_full_run_completes_them(synth_corpus, tmp_path):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=lim", *FAST]
    cfg = load_config(overrides=args)
    assert main(["run", "--limit", "2", "--device", "cpu", *args]) == 0
    stages = {name: get_stage(name)(cfg) for name in stage_names()}
    after_limit = states(cfg)
    assert after_limit.pop("prepare") == ("done", "6")  # prepare always reads the whole corpus
    kept: dict[Path, int] = {}
    for name, (state, count) in after_limit.items():
        stage = stages[name]
        assert state == "partial", name
        if stage.per_clip:
            assert count == "2/6", name
            assert stage.output.done_clips() == sorted(stage.selected_clips(2)["clip"]), name
            if not stage.output.partial()["tainted"]:
                kept.update(mtimes(stage.output.path / "clips"))
    assert kept  # at least the faces clips

    assert main(["run", "--device", "cpu", *args]) == 0
    assert {n: s for n, (s, _) in states(cfg).items()} == {n: "done" for n in stage_names()}
    after = mtimes(tmp_path)
    assert {p: after.get(p) for p in kept} == kept  # the two clips' results were reused, not redone


def test_a_limit_above_the_clip_count_is_a_full_run(fake_pipeline, synth_corpus, tmp_path, caplog):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=fake"]
    assert main(["run", "--limit", "100", *args]) == 0
    assert all(state == "done" for state, _ in states(load_config(overrides=args)).values())
    caplog.clear()
    assert main(["run", *args]) == 0
    assert caplog.text.count("already done in") == len(stage_names())
