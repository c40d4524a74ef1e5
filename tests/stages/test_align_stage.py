"""Stage 05 `align` on a generated corpus, with feature sets from `align.external` folders."""
import json

import numpy as np
import pytest

from affect.cache.series import load_series, save_series
from affect.config import load_config
from affect.stages import RunOptions
from affect.stages.align import AlignStage
from affect.stages.prepare import PrepareStage
from affect.train.aligned import load_clip, read_features
from affect.train.synthetic_features import write_feature_sets


@pytest.fixture
def setup(synth_corpus, tmp_path, monkeypatch):
    """Prepare, and feature folders given as align.external (stages 02-04 are not run here)."""
    monkeypatch.setattr("affect.stages.align.FEATURE_STAGES", ())
    root, record = synth_corpus
    for modality in ("visual", "speech"):
        write_feature_sets(root, tmp_path / "ext" / modality, modality)
    args = [f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2", "align.speech_mask=false",
            f"align.external=[{tmp_path / 'ext' / 'visual'},{tmp_path / 'ext' / 'speech'}]"]
    assert PrepareStage(load_config(overrides=args)).run(RunOptions()).status == "ran"
    return root, record, args, tmp_path


def test_every_clip_on_the_grid_with_masks(setup):
    root, record, args, _ = setup
    stage = AlignStage(load_config(overrides=args))
    assert stage.run(RunOptions()).status == "ran"
    out = stage.output.path
    info = read_features(out)
    assert sorted(info) == ["face-synth", "noise-synth", "voice-synth"]
    assert info["voice-synth"]["substeps"] == 12 and info["face-synth"]["substeps"] == 0
    for rc in record["clips"]:
        c = load_clip(out, rc["clip"])
        frames = rc["label_frames"] or rc["video_frames"]
        assert c.steps == int(np.ceil(frames / rc["fps"] / 0.25 - 1e-9))
        assert c.info["split"] == rc["split"]
        voice = c.features["voice-synth"]
        assert voice.sub_values.shape == (c.steps * 12, 16)
        if not rc["has_audio"]:
            assert not voice.mask.any() and not voice.sub_mask.any()
        else:
            assert voice.mask.mean() > 0.8
        face = c.features["face-synth"]
        for start, stop in rc["no_face_frames"]:
            inside = (c.times > (start + 1) / rc["fps"] + 0.25) & (c.times < (stop - 1) / rc["fps"] - 0.25)
            assert not face.mask[inside].any()
        if rc["split"] == "test":
            assert np.isnan(c.labels).all()
        else:
            assert np.isfinite(c.labels).any() and np.nanmax(np.abs(c.labels)) <= 1


def test_unknown_feature_set_names_the_available_ones(setup):
    _, _, args, _ = setup
    with pytest.raises(ValueError, match="unknown feature set.*'wavlm'.*available: face-synth, noise-synth, voice-synth"):
        AlignStage(load_config(overrides=[*args, "align.features=[wavlm]"])).run(RunOptions())


def test_frame_rate_grid_and_a_mismatched_series(setup):
    root, record, args, tmp_path = setup
    rc = next(c for c in record["clips"] if c["split"] == "train")
    path = tmp_path / "ext" / "visual" / "clips" / rc["clip"] / "face-synth.npz"
    s = load_series(path)
    s.times = s.times * 3  # rows of a longer video
    save_series(path, s)
    stage = AlignStage(load_config(overrides=[*args, "align.hop=0", "align.features=[face-synth]"]))
    stage.run(RunOptions())
    errors = (stage.output.path / "errors.csv").read_text()
    assert rc["clip"] in errors and "lasts" in errors
    other = next(c for c in record["clips"] if c["clip"] != rc["clip"] and c["split"] != "test")
    c = load_clip(stage.output.path, other["clip"])
    assert c.steps == (other["label_frames"] or other["video_frames"]) and c.hop == pytest.approx(1 / other["fps"])
    from affect.train.harness import check_align_errors

    with pytest.raises(ValueError, match=f"align` failed for clip.*{rc['clip']}"):
        check_align_errors(stage.output.path)
    assert json.loads((stage.output.path / "_done.json").read_text())["failed"] == [rc["clip"]]
