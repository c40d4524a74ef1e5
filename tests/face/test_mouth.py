"""The subject's speech activity: voice AND the mouth moving, on a generated face whose mouth opens
in time with its voice while another voice talks in its pauses."""
import numpy as np
import pytest

from affect.audio.vad import VadParams, speech_activity, window_times
from affect.face.mouth import mouth_movement, opening_of_crops, subject_activity
from affect.synth.talking import openness_from_voice, talking_crops
from affect.synth.voice import SYNTH_RATE, Speaker, synth_voice

FPS = 10.0
DURATION = 10.0
SUBJECT_TURNS = [(0.5, 2.5), (5.0, 7.0)]
OTHER_TURNS = [(3.0, 4.6), (7.6, 9.6)]  # someone else talks while the subject is silent


def _balanced_accuracy(pred, truth):
    return (pred[truth].mean() + (~pred[~truth]).mean()) / 2


@pytest.fixture(scope="module")
def scene():
    rng = np.random.default_rng(0)
    cue = np.zeros(int(DURATION * 25))
    subject = synth_voice(rng, Speaker(), DURATION, cue, cue, 25.0, SUBJECT_TURNS)
    other = synth_voice(rng, Speaker(f0_mid=110.0, formant_scale=0.9), DURATION, cue, cue, 25.0, OTHER_TURNS)
    frames = int(DURATION * FPS)
    crops = talking_crops(openness_from_voice(subject, SYNTH_RATE, FPS, frames))
    opening = opening_of_crops(crops)
    return subject.astype(np.float32), other.astype(np.float32), opening, frames


def test_the_mouth_opens_with_the_voice(scene):
    subject, _, opening, frames = scene
    t = np.arange(frames) / FPS
    talking = np.zeros(frames, bool)
    for a, b in SUBJECT_TURNS:
        talking |= (t >= a) & (t < b)
    assert not np.isnan(opening).any()  # dlib fits every rendered crop
    move = mouth_movement(opening, FPS, 0.5)
    assert np.nanmedian(move[talking]) > 3 * np.nanmedian(move[~talking])
    assert np.nanmedian(move[~talking]) < 0.02 < np.nanmedian(move[talking])  # the default threshold between


def test_subject_mask_beats_the_voice_mask(scene):
    subject, other, opening, _ = scene
    voice, _ = speech_activity(subject + other, SYNTH_RATE, VadParams(method="energy"))
    times = window_times(len(voice), SYNTH_RATE)
    truth = np.zeros(len(times), bool)
    for a, b in SUBJECT_TURNS:
        truth |= (times >= a) & (times < b)
    mine = subject_activity(voice, times, mouth_movement(opening, FPS, 0.5), FPS, 0.02)
    voice_ba = _balanced_accuracy(voice > 0.5, truth)
    subject_ba = _balanced_accuracy(mine > 0.5, truth)
    assert voice[(times > 3.3) & (times < 4.3)].mean() > 0.5  # the voice mask takes the other speaker...
    assert mine[(times > 3.3) & (times < 4.3)].mean() < 0.2  # ...the subject mask does not
    assert subject_ba >= 0.8 and subject_ba > voice_ba + 0.15  # measured: 0.85 against 0.66, (voice_ba, subject_ba)


def test_unknown_mouth_keeps_the_voice():
    voice = np.array([1, 1, 0, 1], np.float32)
    times = np.array([0.05, 0.15, 0.25, 0.35])
    movement = np.array([np.nan, 0.0, 0.1, 0.1], np.float32)  # frame 0 unseen, frame 1 still
    assert subject_activity(voice, times, movement, 10.0, 0.02).tolist() == [1, 0, 0, 1]
    assert subject_activity(voice, times, np.zeros(0, np.float32), 10.0).tolist() == voice.tolist()


def test_movement_needs_half_the_window():
    x = np.array([0.1, 0.2] * 10, np.float32)
    x[8:] = np.nan
    m = mouth_movement(x, 10.0, 0.5)  # window: 5 frames
    assert m[2:6] == pytest.approx(np.full(4, 0.04899), abs=1e-4)  # std of 0.1, 0.2, 0.1, 0.2, 0.1
    assert not np.isnan(m[:8]).any() and np.isnan(m[9:]).all()
