"""Stage 05 `align` with `align.speech_mask=subject`: stage 03's voice activity AND the subject's mouth
moving (stage 01's crops); both masks stored per clip, speech features masked by the chosen one."""
import json

import numpy as np

from affect.config import load_config
from affect.stages import RunOptions, get_stage
from affect.stages.align import AlignStage
from affect.train.aligned import load_clip
from affect.train.synthetic_features import write_feature_sets


def test_subject_mask(synth_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("affect.stages.align.FEATURE_STAGES", ())
    root, record = synth_corpus
    write_feature_sets(root, tmp_path / "ext" / "speech", "speech")
    args = [f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2", "faces.source=provided",
            "audio.denoise=none", "audio.vad=energy", f"align.external=[{tmp_path / 'ext' / 'speech'}]"]
    for name in ("prepare", "faces", "audio"):
        assert get_stage(name)(load_config(overrides=args)).run(RunOptions()).failed == 0
    voice_stage = AlignStage(load_config(overrides=[*args, "align.speech_mask=voice"]))
    subject_stage = AlignStage(load_config(overrides=[*args, "align.speech_mask=subject"]))
    assert "faces" in subject_stage.requires and "faces" not in voice_stage.requires
    assert subject_stage.run(RunOptions()).failed == 0 and voice_stage.run(RunOptions()).failed == 0
    assert voice_stage.output.path != subject_stage.output.path
    checked = 0
    for rc in record["clips"]:
        if not rc["has_audio"]:
            continue
        folder = subject_stage.output.path / "clips" / rc["clip"]
        voice, subject = np.load(folder / "speech_voice.npy"), np.load(folder / "speech_subject.npy")
        assert voice.dtype == bool and voice.shape == subject.shape and not (subject & ~voice).any()
        assert voice.any()
        by_subject = load_clip(subject_stage.output.path, rc["clip"]).features["voice-synth"].mask
        by_voice = load_clip(voice_stage.output.path, rc["clip"]).features["voice-synth"].mask
        assert not (by_subject & ~subject).any() and not (by_voice & ~voice).any()
        assert (by_subject == (by_voice & subject)).all()
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["speech_subject"] <= summary["speech_voice"]
        checked += 1
    assert checked
