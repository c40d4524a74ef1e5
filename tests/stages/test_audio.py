"""Stage 03 `audio` on the generated corpus: layout, shared videos extracted once, no-audio video."""
import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest

from affect.audio.store import load_audio_info, load_speech_mask, load_wave, video_dir
from affect.config import load_config
from affect.stages import RunOptions, get_stage


@pytest.fixture(scope="module")
def audio_run(synth_corpus, tmp_path_factory):
    root, record = synth_corpus
    cache = tmp_path_factory.mktemp("audio_stage")
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={cache}", "corpus.name=a", "prepare.folds=2"])
    get_stage("prepare")(cfg).run(RunOptions())
    stage = get_stage("audio")(cfg)
    from affect.audio import track

    calls = []
    real = track.make_track
    with pytest.MonkeyPatch.context() as mp:  # count extractions per video
        mp.setattr(track, "make_track", lambda video, *a, **k: calls.append(video.stem) or real(video, *a, **k))
        report = stage.run(RunOptions())
    return cfg, stage, report, record, calls


def test_every_clip_has_its_track(audio_run):
    cfg, stage, report, record, calls = audio_run
    assert report.status == "ran" and report.failed == 0 and stage.output.done
    videos = {v["video"]: v for v in record["videos"]}
    for clip in record["clips"]:
        wave, info = load_wave(stage.output.path, clip["clip"])
        mask = load_speech_mask(stage.output.path, clip["clip"])
        duration = clip["video_frames"] / clip["fps"]
        assert wave.dtype == np.float32 and len(wave) == round(duration * 16000)
        assert mask.values.shape == (len(mask.times), 1) and len(mask.times) == -(-len(wave) // 512)
        assert np.allclose(mask.times[:2], [0.016, 0.048]) and mask.rate == 31.25
        if videos[clip["video"]]["has_audio"]:
            assert info["status"] == "ok" and mask.mask.all()
            assert info["source_rate"] == videos[clip["video"]]["sample_rate"]
            assert 0.3 < mask.values.mean() < 1.0  # the synthetic speaker talks most of the time, with pauses
        else:  # s003: no audio stream -> a fully masked track of the video's duration
            assert info["status"] == "no-audio" and not mask.mask.any() and not wave.any()


def test_left_right_extracted_once(audio_run, caplog):
    cfg, stage, report, record, calls = audio_run
    out = stage.output.path
    assert sorted(p.name for p in (out / "videos").iterdir()) == sorted(v["video"] for v in record["videos"])
    assert load_audio_info(out, "s000_left") == load_audio_info(out, "s000_right")
    assert sorted(calls) == sorted(v["video"] for v in record["videos"])  # s000 once for s000_left and _right
    mtime = (video_dir(out, "s000") / "wave.npy").stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert get_stage("audio")(cfg).run(RunOptions()).status == "done-before"
    assert (video_dir(out, "s000") / "wave.npy").stat().st_mtime_ns == mtime


def test_summary_and_missing_clip(audio_run):
    cfg, stage, report, record, calls = audio_run
    summary = json.loads((stage.output.clip_dir("s003") / "summary.json").read_text())
    assert summary["status"] == "no-audio" and summary["video"] == "s003"
    with pytest.raises(FileNotFoundError, match="nope"):
        load_speech_mask(stage.output.path, "nope")


def test_corrupt_video_is_a_clip_error(tmp_path, make_video):
    """A file that cannot be read fails its clip with the file named; the others go on."""
    import pandas as pd

    from affect.stages.audio import AudioStage
    from affect.stages.base import ClipError

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    cfg = load_config(overrides=[f"corpus.root={tmp_path}", f"cache_root={tmp_path / 'cache'}"])
    stage = AudioStage(cfg)
    stage.__dict__["output"] = SimpleNamespace(path=tmp_path / "out")  # no run: process() alone
    clip = pd.Series({"clip": "broken", "video": "broken", "video_path": "broken.mp4", "fps": 25.0,
                      "video_frames": 50, "frames": 50, "duration": 2.0})
    (tmp_path / "clipdir").mkdir()
    with pytest.raises(ClipError, match="broken.mp4"):
        stage.process(clip, tmp_path / "clipdir")
    assert not (tmp_path / "out" / "videos" / "broken").exists()
