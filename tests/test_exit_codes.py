"""Exit codes (0 every clip done, 1 some clips failed, 2 a stage could not run), --keep-going, --dry-run's
checks, and a stage that stops leaving a log that ends with why."""
import shutil

import pandas as pd

from affect.cli import main
from affect.config import load_config
from affect.data.sources import split_side
from affect.stages import get_stage


def copy_corpus(synth_corpus, tmp_path):
    root, record = synth_corpus
    corpus = tmp_path / "corpus"
    shutil.copytree(root, corpus)
    return corpus, record


def test_one_bad_clip_exits_1_and_errors_csv_names_it(synth_corpus, tmp_path, caplog):
    corpus, record = copy_corpus(synth_corpus, tmp_path)
    single = next(c for c in record["clips"] if "_" not in c["clip"] and c["split"] != "test")
    video = next((corpus / "videos").rglob(f"{single['clip']}.*"))
    video.write_bytes(video.read_bytes()[:3000])  # truncated: no decodable stream
    args = [f"corpus.root={corpus}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2"]
    assert main(["run", "--stop-stage", "prepare", *args]) == 1
    errors = pd.read_csv(get_stage("prepare")(load_config(overrides=args)).output.path / "errors.csv")
    assert list(errors["clip"]) == [single["clip"]]
    assert f"prepare: 1 clip(s) failed: {single['clip']}" in caplog.text
    assert main(["run", "--stop-stage", "prepare", *args]) == 1  # a rerun: the clip is still missing


def test_nothing_could_run_exits_2(tmp_path):
    assert main(["run", f"corpus.root={tmp_path / 'missing'}", f"cache_root={tmp_path / 'cache'}"]) == 2


def test_keep_going_runs_what_does_not_need_the_broken_stage(synth_corpus, tmp_path, caplog):
    corpus, _ = copy_corpus(synth_corpus, tmp_path)
    args = [f"corpus.root={corpus}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2", "faces.source=provided",
            "faces.size=64", "visual.backbones=[resnet5O-tiny]", "visual.weights=random", "device=cpu",
            "speech.backbones=[egemaps]", "audio.vad=energy", "audio.denoise=none"]
    cfg = load_config(overrides=args)
    # without --keep-going the run stops at visual: audio (which does not need it) is not run
    assert main(["run", "--stop-stage", "audio", *args]) == 2
    assert not get_stage("audio")(cfg).output.done
    log = (get_stage("visual")(cfg).output.path / "log.txt").read_text().strip().splitlines()
    assert "visual: stopped: unknown backbone 'resnet5O-tiny'" in log[-1]  # the log ends with why
    assert caplog.text.count("unknown backbone 'resnet5O-tiny'") == 1  # said once
    caplog.clear()
    assert main(["run", "--stop-stage", "align", "--keep-going", *args]) == 2
    assert get_stage("audio")(cfg).output.done and get_stage("faces")(cfg).output.done
    assert "align: not run: it needs visual, which could not run" in caplog.text


def test_dry_run_reports_missing_weights(synth_corpus, tmp_path, caplog, monkeypatch):
    root, _ = synth_corpus
    checkpoints = tmp_path / "checkpoints"
    monkeypatch.setenv("AFFECT_CHECKPOINTS", str(checkpoints))
    args = ["--dry-run", f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}",
            "visual.backbones=[resnet50-vggface2,landmarks68]", "speech.backbones=[egemaps]"]
    assert main(["run", *args]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "resnet50-vggface2" in errors[0]
    assert str(checkpoints / "resnet50-vggface2" / "resnet50_ft_weight.pkl") in errors[0]
    assert "affect weights fetch resnet50-vggface2" in errors[0]
    assert "dry run: weights landmarks68: ok" in caplog.text and "dry run: test list: ok" in caplog.text
    assert not (tmp_path / "cache").exists()  # a dry run writes nothing
    # the file where the message says: the dry run passes (it looks where a run looks)
    (checkpoints / "resnet50-vggface2").mkdir(parents=True)
    (checkpoints / "resnet50-vggface2" / "resnet50_ft_weight.pkl").write_bytes(b"")
    caplog.clear()
    assert main(["run", *args]) == 0
    assert "dry run: weights resnet50-vggface2: ok" in caplog.text


def test_dry_run_names_an_unknown_backbone(synth_corpus, tmp_path, caplog):
    root, _ = synth_corpus
    assert main(["run", "--dry-run", f"corpus.root={root}", f"cache_root={tmp_path}",
                 "visual.backbones=[resnet5O-tiny]", "speech.backbones=[egemaps]"]) == 2
    assert "visual.backbones: unknown backbone 'resnet5O-tiny'" in caplog.text


def test_weights_fetch_with_a_config_fetches_what_it_uses(monkeypatch):
    import affect.backbones.weights as weights

    asked = []
    monkeypatch.setattr(weights, "fetch_many", lambda names, tag="default": asked.extend(names) or 0)
    assert main(["weights", "fetch", "-c", "pipelines/conf/affwild2.yaml"]) == 0
    assert asked == ["clip-vit-l14", "resnet50-vggface2", "senet50-vggface2", "eva02-large", "wavlm-large",
                     "whisper-large-v3"]  # egemaps ships with openSMILE: nothing to fetch
    assert main(["weights", "fetch"]) == 2  # neither names nor a config


def test_sigterm_stops_a_stage_with_a_last_log_line_and_exit_130(synth_corpus, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus, _ = copy_corpus(synth_corpus, tmp_path)
    args = [f"corpus.root={corpus}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2", "faces.max_side=192"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "affect.cli", "run", "--stop-stage", "faces", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    faces = get_stage("faces")(load_config(overrides=args)).output.path
    deadline = time.monotonic() + 60
    log_txt = faces / "log.txt"
    while time.monotonic() < deadline and not (log_txt.is_file() and "faces: writing" in log_txt.read_text()):
        time.sleep(0.1)  # stage 01 is at work
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    last = (faces / "log.txt").read_text().strip().splitlines()[-1]
    assert "faces: interrupted" in last and "a rerun resumes" in last


def test_dry_run_opens_every_clip_and_stops_on_a_broken_test_clip(synth_corpus, tmp_path, caplog):
    corpus, record = copy_corpus(synth_corpus, tmp_path)
    test = next(c for c in record["clips"] if c["split"] == "test")
    video = next((corpus / "videos").rglob(f"{split_side(test['clip'])[0]}.*"))
    video.write_bytes(b"not a video")
    args = ["--dry-run", "--stop-stage", "prepare", f"corpus.root={corpus}", f"cache_root={tmp_path / 'cache'}"]
    assert main(["run", *args]) == 2  # predict.missing=fail: stage 08 would stop on it
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors and all(str(video) in e and "predict.missing=fail" in e for e in errors)
    assert "would be skipped" in caplog.text and not (tmp_path / "cache").exists()
    caplog.clear()
    assert main(["run", *args, "predict.missing=zeros"]) == 0  # the run would go on without it
    assert str(video) in caplog.text


def test_a_duplicate_row_is_not_called_a_failed_clip(tmp_path):
    from affect.cli import _failed_clips
    from affect.stages.base import StageReport

    pd.DataFrame({"clip": ["a", "b", "b", "c"], "file": ["l:2", "l:3", "l:5", "l:6"],
                  "error": ["duplicate clip id (first seen in l:1); skipped", "cannot open",
                            "duplicate clip id (first seen in l:3); skipped", "no labels"]}
                 ).to_csv(tmp_path / "errors.csv", index=False)
    clips, path = _failed_clips([StageReport("prepare", tmp_path, "ran")])["prepare"]
    assert clips == ["a (a second row with this id; the first was used)", "b", "c"] and path == tmp_path / "errors.csv"


def test_a_second_run_on_a_folder_being_written_stops_with_one_line(synth_corpus, tmp_path, caplog):
    from affect.cache.lock import folder_lock

    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2"]
    folder = get_stage("prepare")(load_config(overrides=args)).output.path
    with folder_lock(folder):  # as another `affect run` holds it while it writes
        assert main(["run", "--stop-stage", "prepare", *args]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and f"{folder} is being written by another affect run" in errors[0]
    assert not folder.exists()  # nothing touched
    assert main(["run", "--stop-stage", "prepare", *args]) == 0  # the lock goes with its holder
    lock = folder.parent / f".{folder.name}.lock"
    before = lock.stat().st_mtime_ns
    assert main(["run", "--stop-stage", "prepare", *args]) == 0 and lock.stat().st_mtime_ns == before
