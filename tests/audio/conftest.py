"""Audio-test helpers: the synthetic generator's voice in its room noise, with the truth kept."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from affect.synth.voice import SYNTH_RATE, Speaker, mix, room_noise, synth_voice

TURNS = [(0.6, 3.4), (5.0, 8.2), (9.6, 11.4)]  # seconds where the speaker talks
DURATION = 12.0


@dataclass
class NoisyVoice:
    noisy: np.ndarray  # float32 [samples] at 16 kHz: voice + room noise at 10 dB
    voice: np.ndarray  # the clean voice alone, same scale
    speaking: np.ndarray  # bool [samples]: inside the generator's speaking turns
    snr_db: float


def make_noisy_voice(seed: int = 0, snr_db: float = 10.0) -> NoisyVoice:
    """The generator's voice (`affect.synth.voice`) talking in TURNS, mixed into room noise as the
    corpus generator mixes it (`mix`: noise scaled to the SNR; no peak limiting at this level)."""
    rng = np.random.default_rng(seed)
    cue = np.zeros(int(DURATION * 25))
    voice = synth_voice(rng, Speaker(), DURATION, cue, cue, 25.0, TURNS)
    noisy, snr = mix([voice], [0.5], room_noise(rng, len(voice), SYNTH_RATE, 1), snr_db)
    assert np.abs(noisy).max() < 0.95  # not peak-limited: `voice` is the speech inside `noisy` exactly
    speaking = np.zeros(len(voice), bool)
    for a, b in TURNS:
        speaking[int(a * SYNTH_RATE):int(b * SYNTH_RATE)] = True
    return NoisyVoice(noisy[0], voice.astype(np.float32), speaking, snr)


@pytest.fixture(scope="session")
def noisy_voice() -> NoisyVoice:
    return make_noisy_voice()


def write_av(path, video_s: float, audio: np.ndarray | None, rate: int = 44100, fps: int = 10):
    """A tiny mp4 (32x32 grey frames) of `video_s` seconds with `audio` float32 [channels, samples] as AAC."""
    from fractions import Fraction

    from affect.synth.mux import AVWriter

    frame = np.full((32, 32, 3), 128, np.uint8)
    with AVWriter(path, Fraction(fps), 32, 32, audio, rate) as writer:
        for _ in range(int(round(video_s * fps))):
            writer.write(frame)
    return path


@pytest.fixture
def make_av():
    return write_av
