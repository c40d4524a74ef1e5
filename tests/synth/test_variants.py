"""Cue layouts (`affect synth --cues`): the default draws are untouched; a silenced cue keeps only its noise."""
import numpy as np
import pytest

from affect.synth.corpus import CUE_NOISE, clip_series
from affect.synth.plan import plan_corpus
from affect.synth.variants import LAYOUTS, cue_layout


def series(cues: str):
    vp = plan_corpus(3, 60.0, 7)[1]
    return clip_series(vp, vp.clips[0], np.random.default_rng([7, 1, 1]), np.random.default_rng([7, 2, 1]), cues)


def test_every_layout_keeps_latent_and_labels_and_moves_only_its_cues():
    base = series("default")
    truth = {n: base.latent[:, 0 if "valence" in n else 1] for n in CUE_NOISE}
    for name, layout in LAYOUTS.items():
        data = series(name)
        np.testing.assert_array_equal(data.latent, base.latent)  # the ceiling (latent vs labels) is the default's
        np.testing.assert_array_equal(data.labels, base.labels)
        for cue in CUE_NOISE:
            noise = base.cues[cue] - truth[cue]
            if cue in layout.noise:
                noise = noise * layout.noise[cue] / CUE_NOISE[cue]
            expected = noise if cue in layout.silent else truth[cue] + noise
            np.testing.assert_allclose(data.cues[cue], expected, atol=1e-4, err_msg=f"{name}: {cue}")


@pytest.mark.parametrize("name,follows,silent", [
    ("valence-colour", "face_valence", ("shape_valence", "voice_valence")),
    ("valence-shape", "shape_valence", ("face_valence", "voice_valence")),
    ("valence-voice", "voice_valence", ("face_valence", "shape_valence")),
    ("arousal-voice", "voice_arousal", ("face_arousal", "motion_arousal", "shape_arousal")),
    ("voice-no-arousal", "face_arousal", ("voice_arousal",)),
])
def test_the_named_dimension_shows_only_where_the_layout_says(name, follows, silent):
    data = series(name)
    d = 0 if "valence" in follows else 1
    corr = {c: np.corrcoef(data.cues[c], data.latent[:, d])[0, 1] for c in CUE_NOISE if ("valence" in c) == (d == 0)}
    assert corr[follows] > 0.5
    assert all(abs(corr[c]) < 0.5 * corr[follows] for c in silent)
    assert set(silent) == set(cue_layout(name).silent)


def test_unknown_layout_is_named():
    with pytest.raises(ValueError, match="unknown cue layout 'colour'; layouts: default, valence-colour"):
        cue_layout("colour")
