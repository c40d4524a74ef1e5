"""Speech activity against the generator's own record of when its speaker talks."""
import numpy as np
import pytest

from affect.audio.denoise import denoise
from affect.audio.vad import WINDOW, VadParams, speech_activity, window_times


def _truth(nv, n):
    """Per 32 ms window: inside a speaking turn (majority of samples), and voiced (clean-voice energy
    within 25 dB of its loud level)."""
    pad = n * WINDOW - len(nv.speaking)
    turn = np.pad(nv.speaking, (0, pad)).reshape(n, WINDOW).mean(1) > 0.5
    energy = np.pad(nv.voice.astype(np.float64) ** 2, (0, pad)).reshape(n, WINDOW).mean(1)
    voiced = 10 * np.log10(energy + 1e-12) > 10 * np.log10(np.percentile(energy, 95)) - 25
    return turn, voiced


@pytest.mark.parametrize("method", ["silero", "energy"])
@pytest.mark.parametrize("clean", [False, True])
def test_activity_agrees_with_the_generator(noisy_voice, method, clean):
    wave = denoise(noisy_voice.noisy, 16000) if clean else noisy_voice.noisy
    active, used = speech_activity(wave, 16000, VadParams(method=method))
    assert used == method and active.dtype == np.float32 and set(np.unique(active)) <= {0.0, 1.0}
    assert len(active) == -(-len(wave) // WINDOW)
    turn, voiced = _truth(noisy_voice, len(active))
    on = active > 0.5
    assert on[voiced].mean() >= 0.9  # voiced speech is found
    assert on[~turn].mean() <= 0.05  # nothing outside the speaker's turns
    assert (on == turn).mean() >= 0.75  # turns hold pauses between phrases, which are not speech
    assert (on == voiced).mean() >= 0.9


def test_silence_and_chunks(noisy_voice):
    silent, _ = speech_activity(np.zeros(16000, np.float32), 16000, VadParams())
    assert silent.shape == (32,) and not silent.any()
    whole, _ = speech_activity(noisy_voice.noisy, 16000, VadParams(chunk_s=60))
    chunked, _ = speech_activity(noisy_voice.noisy, 16000, VadParams(chunk_s=3))
    assert (whole == chunked).mean() > 0.95
    assert np.allclose(window_times(2, 16000), [0.016, 0.048])


def test_energy_fallback_when_silero_missing(noisy_voice, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_silero(name, *args, **kwargs):
        if name.startswith("silero_vad"):
            raise ImportError("no silero")
        return real_import(name, *args, **kwargs)

    import affect.audio.vad as vad

    monkeypatch.setattr(vad, "_SILERO", None)
    monkeypatch.setattr(builtins, "__import__", no_silero)
    active, used = speech_activity(noisy_voice.noisy, 16000, VadParams(method="silero"))
    assert used == "energy" and active.any()
