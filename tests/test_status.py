"""`affect status`, and the one-line messages for bad input (corpus root, cache root, stale folders)."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import affect.stages as stages_pkg
from affect.cli import main
from affect.config import load_config
from affect.stages import get_stage, stage_names
from affect.stages.base import ClipError
from affect.stages.clip_stage import ClipStage


@dataclass
class FlakySection:
    bad: str = "s001"  # the clip that fails


class FlakyClips(ClipStage):
    """A fast per-clip stage that fails on one clip."""

    name, number = "flaky", 60

    def section(self) -> Any:
        return FlakySection()

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        if clip["clip"] == self.section().bad:
            raise ClipError(f"videos/{clip['clip']}.mp4", "cannot decode frame 12")
        return {"frames": int(clip["frames"])}


@pytest.fixture
def flaky_pipeline(monkeypatch):
    for name in list(stages_pkg.STAGES):
        if name != "prepare":
            monkeypatch.delitem(stages_pkg.STAGES, name)
    monkeypatch.setitem(stages_pkg.STAGES, "flaky", (60, f"{__name__}:FlakyClips"))
    monkeypatch.setitem(stages_pkg.DESCRIPTIONS, "flaky", "60 a fake stage that fails on one clip")


def status(capsys, *args: str) -> dict[str, list[str]]:
    """`affect status` as {stage: its table row's cells}, plus '_text' with the whole output."""
    capsys.readouterr()
    assert main(["status", *args]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[1]: line.split() for line in text.splitlines()[2:] if line[:2].isdigit()}
    return {**rows, "_text": [text]}


def test_status_not_run_then_done(synth_corpus, tmp_path, capsys):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=st"]
    before = status(capsys, *args)
    assert [before[n][2:4] for n in stage_names()] == [["not", "run"]] * len(stage_names())
    assert main(["prepare", *args]) == 0
    after = status(capsys, *args)
    assert after["prepare"][2:4] == ["done", "6"]
    assert after["prepare"][-1].endswith(str(get_stage("prepare")(load_config(overrides=args)).output.path.name))
    assert all(after[n][2:4] == ["not", "run"] for n in stage_names()[1:])


def test_status_partial_then_done_with_first_error(flaky_pipeline, synth_corpus, tmp_path, capsys):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=st"]
    assert main(["run", "--limit", "3", *args]) == 0
    partial = status(capsys, *args)
    assert partial["flaky"][2:4] == ["partial", "3/6"]
    assert "flaky: partial (--limit 3): a full run adds the missing clips" in partial["_text"][0]
    assert main(["run", *args]) == 1  # finished, one clip failed
    done = status(capsys, *args)
    assert done["flaky"][2:5] == ["done", "5/6", "1"]
    assert "flaky: 1 failed; first: s001: videos/s001.mp4: cannot decode frame 12" in done["_text"][0]


def test_stale_output_folder_is_one_clear_line(synth_corpus, tmp_path, capsys, caplog):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=st"]
    assert main(["prepare", *args]) == 0
    folder = get_stage("prepare")(load_config(overrides=args)).output.path
    (folder / "_done.json").write_text('{"clips": 6}')  # a marker without the fingerprint
    assert status(capsys, *args)["prepare"][2] == "stale"
    caplog.clear()
    assert main(["prepare", *args]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and str(folder) in errors[0] and "--overwrite" in errors[0]
    assert main(["prepare", "--overwrite", *args]) == 0


def test_missing_corpus_and_unwritable_cache_are_one_clear_line(tmp_path, caplog):
    missing = tmp_path / "no-such-corpus"
    assert main(["run", f"corpus.root={missing}", f"cache_root={tmp_path}"]) == 2
    assert f"corpus root {missing} does not exist" in caplog.text and "corpus.root=" in caplog.text
    assert main(["status", f"corpus.root={missing}", f"cache_root={tmp_path}"]) == 2

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    caplog.clear()
    assert main(["prepare", f"corpus.root={corpus}", f"cache_root={blocker / 'cache'}"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and str(blocker / "cache") in errors[0] and "writable" in errors[0]


def test_status_is_fast_and_imports_no_model_library(synth_corpus, tmp_path):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=st"]
    assert main(["prepare", *args]) == 0
    code = ("import sys, time; t = time.perf_counter(); import affect.cli; "
            f"rc = affect.cli.main(['status', *{args!r}]); "
            "print(rc, sorted(m for m in ('torch', 'timm', 'transformers', 'open_clip', 'facenet_pytorch', 'dlib') "
            "if m in sys.modules), round(time.perf_counter() - t, 2), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("0 [] "), out.stderr
    seconds = float(last.rsplit(" ", 1)[1])
    assert seconds < 5.0, f"affect status took {seconds} s"  # about a second; generous on a loaded machine
    assert any(line.split()[1:3] == ["prepare", "done"] for line in out.stdout.splitlines()), out.stdout


def test_interrupted_broken_and_old_clip_folders(flaky_pipeline, monkeypatch, synth_corpus, tmp_path, capsys, caplog):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=st"]
    assert main(["run", "--limit", "2", *args]) == 0
    folder = get_stage("flaky")(load_config(overrides=args)).output.path
    (folder / "_partial.json").unlink()  # as if killed before its marker was written
    assert status(capsys, *args)["flaky"][2:4] == ["incomplete", "2/6"]

    (next((folder / "clips").iterdir()) / "summary.json").unlink()  # a clip folder an older version wrote
    caplog.clear()
    assert main(["run", *args]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "without summary.json" in errors[0] and "--overwrite" in errors[0]

    monkeypatch.setitem(stages_pkg.STAGES, "broken", (61, "affect.stages.no_such_module:Broken"))
    monkeypatch.setitem(stages_pkg.DESCRIPTIONS, "broken", "61 a stage that cannot be imported")
    rows = status(capsys, *args)
    assert rows["broken"][2] == "error" and "ModuleNotFoundError" in rows["_text"][0]
