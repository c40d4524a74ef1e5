"""Stage 04 `speech` on the generated corpus with tiny random encoders and openSMILE."""
import json

import numpy as np
import pytest

from affect.cache.series import load_series
from affect.config import load_config
from affect.stages import RunOptions, get_stage

BACKBONES = ["wavlm-tiny", "whisper-tiny-random", "egemaps"]


@pytest.fixture(scope="module")
def speech_run(synth_corpus, tmp_path_factory):
    root, record = synth_corpus
    cache = tmp_path_factory.mktemp("speech_stage")
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={cache}", "corpus.name=s", "prepare.folds=2",
                                 "device=cpu", "speech.weights=random", f"speech.backbones=[{','.join(BACKBONES)}]"])
    for name in ("prepare", "audio"):
        get_stage(name)(cfg).run(RunOptions())
    stage = get_stage("speech")(cfg)
    return cfg, stage, stage.run(RunOptions()), record


def test_features_per_clip(speech_run):
    cfg, stage, report, record = speech_run
    assert report.status == "ran" and report.failed == 0 and stage.output.done
    described = json.loads((stage.output.path / "backbones.json").read_text())
    assert sorted(described) == sorted(BACKBONES) and described["wavlm-tiny"]["weights"].startswith("random")
    for clip in record["clips"]:
        duration = clip["video_frames"] / clip["fps"]
        for name in BACKBONES:
            s = load_series(stage.output.clip_dir(clip["clip"]) / f"{name}.npz")
            assert s.values.shape[1] == described[name]["dim"] and s.rate == described[name]["rate"]
            if name != "egemaps":
                assert len(s.times) == int(duration * 16000) // 320
                assert np.allclose(s.times, (np.arange(len(s.times)) + 0.5) / 50)
            assert s.mask.all() == clip["has_audio"] and s.mask.any() == clip["has_audio"]


def test_left_right_share_features(speech_run):
    cfg, stage, report, record = speech_run
    left, right = stage.output.clip_dir("s000_left"), stage.output.clip_dir("s000_right")
    for name in BACKBONES:
        assert (left / f"{name}.npz").read_bytes() == (right / f"{name}.npz").read_bytes()
    assert json.loads((right / "summary.json").read_text())["copied_from"] == "s000_left"


def test_rerun_is_a_no_op(speech_run):
    cfg, stage, report, record = speech_run
    assert get_stage("speech")(cfg).run(RunOptions()).status == "done-before"


def test_keep_raw_encodes_both_waveforms(synth_corpus, tmp_path):
    """audio.keep_raw: stage 03 keeps the waveform before enhancement; stage 04 encodes it as `<backbone>.raw`."""
    from affect.audio.store import RAW_WAVE, WAVE, clip_video, video_dir

    root, record = synth_corpus
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=r", "prepare.folds=2",
                                 "device=cpu", "speech.weights=random", "speech.backbones=[wavlm-tiny]",
                                 "audio.keep_raw=true", "audio.denoise=stationary"])
    for name in ("prepare", "audio"):
        get_stage(name)(cfg).run(RunOptions())
    stage = get_stage("speech")(cfg)
    assert stage.run(RunOptions()).failed == 0
    described = json.loads((stage.output.path / "backbones.json").read_text())
    assert sorted(described) == ["wavlm-tiny", "wavlm-tiny.raw"] and described["wavlm-tiny.raw"]["waveform"] == "raw"
    audio_dir = stage.upstream_output("audio").path
    clip = next(c for c in record["clips"] if c["has_audio"])
    folder = video_dir(audio_dir, clip_video(audio_dir, clip["clip"]))
    assert not np.array_equal(np.load(folder / WAVE), np.load(folder / RAW_WAVE))
    enhanced, raw = (load_series(stage.output.clip_dir(clip["clip"]) / f"{n}.npz") for n in described)
    assert enhanced.values.shape == raw.values.shape and not np.array_equal(enhanced.values, raw.values)
