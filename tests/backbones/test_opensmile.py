"""openSMILE speech backbones (`egemaps`, `compare`) on a synthetic voice."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from affect.backbones.registry import create_backbone, list_backbones
from affect.synth.voice import Speaker, synth_voice

SR = 16000


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    """1.5 s of the synthetic voice at arousal/valence 0 (peak ~0.17), float32 at 16 kHz."""
    rng = np.random.default_rng(0)
    return synth_voice(rng, Speaker(), 1.5, np.zeros(40), np.zeros(40), 25.0).astype(np.float32)


@pytest.fixture(scope="module")
def egemaps():
    return create_backbone("egemaps")


@pytest.mark.parametrize("name, dim, centre", [("egemaps", 25, 0.010), ("compare", 65, 0.030)])
def test_dimension_rate_and_times(name, dim, centre, voice):
    assert name in list_backbones("speech")
    b = create_backbone(name, weights="random")  # no weights to randomise: logged and ignored
    values, times = b.encode(voice)
    assert b.rate == 100.0 and b.dim == dim and b.describe()["rate"] == 100.0
    assert values.dtype == np.float32 and times.dtype == np.float64
    # openSMILE frames every 10 ms; 1.5 s holds (1.5 - 0.06) / 0.01 + 1 = 145 full 60 ms windows (+1 padded)
    assert values.shape == (len(times), dim) and 145 <= len(times) <= 147
    assert np.isfinite(values).all()
    assert times[0] == pytest.approx(centre) and np.allclose(np.diff(times), 0.01)
    assert len(b.describe()["columns"]) == dim


def test_loudness_follows_a_louder_voice(egemaps, voice):
    """The same voice at +12 dB: eGeMAPS loudness (~ intensity^0.3) of each voiced frame x1.8-3.5."""
    quiet, loud = 0.5 * voice, 2.0 * voice
    values, _ = egemaps.encode(np.concatenate([quiet, loud]))
    n = len(voice) // 160  # frames per half
    a, b = values[:n - 6, 0], values[n:2 * n - 6, 0]  # Loudness_sma3, same frames of both halves
    voiced = a > 0.1 * a.max()
    ratio = np.median(b[voiced] / a[voiced])
    assert 1.8 < ratio < 3.5, ratio
    assert np.corrcoef(a, b)[0, 1] > 0.8  # the loudness contour follows the syllables
    silence, _ = egemaps.encode(np.zeros(SR // 2, np.float32))
    assert silence[:, 0].max() < 0.01 * a.max()


@pytest.mark.parametrize("name", ["egemaps", "compare"])
def test_short_silent_and_bad_input(name, caplog):
    b = create_backbone(name)
    values, times = b.encode(np.zeros(int(0.03 * SR), np.float32))  # shorter than one 60 ms window
    assert values.shape == (0, b.dim) and times.shape == (0,)
    values, times = b.encode(np.zeros(SR // 10, np.float32))  # 0.1 s of silence
    assert len(values) == len(times) > 0 and np.isfinite(values).all()
    with caplog.at_level(logging.WARNING):
        values, _ = b.encode(np.full(SR // 10, 1.5, np.float32))  # beyond full scale: clipped, not wrapped
    assert "clipped" in caplog.text and np.isfinite(values).all()
    bad = np.zeros(SR // 10, np.float32)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="1600 samples.*non-finite"):
        b.encode(bad)
    with pytest.raises(ValueError, match="mono"):
        b.encode(np.zeros((2, SR // 10), np.float32))
    with pytest.raises(ValueError, match="float samples"):
        b.encode(np.zeros(SR // 10, np.int16))


def test_opensmile_failure_is_a_value_error_naming_the_input(egemaps, voice, monkeypatch):
    """Stage 04 records a ValueError for the clip (with the file) and goes on with the others."""
    def broken(*args, **kwargs):
        raise OSError("SMILE returned an error")

    monkeypatch.setattr(egemaps._smile, "process_signal", broken)
    with pytest.raises(ValueError, match=r"eGeMAPSv02 failed on a waveform of 24000 samples \(1.500 s"):
        egemaps.encode(voice)


@pytest.mark.parametrize("name", ["egemaps", "compare"])
def test_values_fit_float16_storage(name, caplog):
    """Noise (ComParE spectral variance ~6e6 Hz^2) and a pure tone (spectral kurtosis ~1e4) stay finite in float16."""
    b = create_backbone(name)
    rng = np.random.default_rng(0)
    noise = (0.25 * rng.standard_normal(SR // 2)).clip(-1, 1).astype(np.float32)
    tone = (0.9 * np.sin(2 * np.pi * 440 * np.arange(SR // 2) / SR)).astype(np.float32)
    for wave in (noise, tone):
        values, _ = b.encode(wave)
        assert np.isfinite(values.astype(np.float16)).all()
    if name == "compare":
        spread = values[:, b.columns.index("pcm_fftMag_spectralStd_sma")]
        assert (spread >= 0).all() and spread.max() < 8000  # Hz, below Nyquist
    assert "clipped" not in caplog.text  # the transforms suffice: nothing reached the clip
