"""Stage 03's track on bad input: each case handled and stated in `audio.json`, never a crash.

Clipped audio, a DC offset, 8 kHz telephone audio (stored at 8 kHz, and at 16 kHz but empty
above 4 kHz), a 6-channel track, silence only, and a track shorter than the video.
"""
import json

import numpy as np
import pytest

from affect.audio.checks import bandwidth_hz
from affect.audio.config import AudioConfig
from affect.audio.store import INFO, RAW_WAVE, WAVE
from affect.audio.track import make_track

CFG = AudioConfig(denoise="stationary", vad="energy")


def _speechy(seconds: float, rate: int, amp: float = 0.3, seed: int = 0) -> np.ndarray:
    """A voiced tone with syllables and a little broadband noise (content up to rate / 2)."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(130 + 15 * np.sin(2 * np.pi * 0.5 * t)) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 160 < rate / 2)
    noise = 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    return (amp * tone / np.abs(tone).max() * ((t % 0.6) < 0.4) + noise).astype(np.float32)


def _wav(tmp_path, audio: np.ndarray, rate: int, name: str = "a.wav"):
    """`audio` [samples] or [samples, channels] written as 16-bit PCM WAV (what a bad track can be)."""
    import soundfile as sf

    path = tmp_path / name
    sf.write(path, np.clip(audio, -1, 1), rate, subtype="PCM_16")
    return path


def _run(tmp_path, path, seconds: float, cfg: AudioConfig = CFG) -> dict:
    info = make_track(path, seconds, cfg, tmp_path / "out")
    assert json.loads((tmp_path / "out" / INFO).read_text()) == json.loads(json.dumps(info))
    assert len(np.load(tmp_path / "out" / WAVE)) == int(round(seconds * 16000))
    return info


def test_clean_track_has_no_problems(tmp_path):
    info = _run(tmp_path, _wav(tmp_path, _speechy(3.0, 16000), 16000), 3.0)
    assert info["status"] == "ok" and info["problems"] == []
    assert not info["input"]["narrowband"] and info["input"]["bandwidth_hz"] > 6000
    assert info["denoise"] == "stationary"


def test_clipped(tmp_path):
    x = np.clip(_speechy(3.0, 16000, amp=1.0) * 3, -1, 1)
    info = _run(tmp_path, _wav(tmp_path, x, 16000), 3.0)
    assert info["input"]["clipped_share"] > 0.05
    assert any(p.startswith("clipped") for p in info["problems"]) and info["status"] == "ok"


def test_dc_offset_removed(tmp_path):
    info = _run(tmp_path, _wav(tmp_path, _speechy(3.0, 16000) + 0.2, 16000), 3.0,
                AudioConfig(denoise="none", vad="energy", keep_raw=True))
    assert info["input"]["dc_offset"] == pytest.approx(0.2, abs=0.01) and info["input"]["dc_removed"]
    assert any("DC offset" in p for p in info["problems"])
    assert abs(float(np.load(tmp_path / "out" / WAVE).mean())) < 1e-3
    assert abs(float(np.load(tmp_path / "out" / RAW_WAVE).mean())) < 1e-3  # the raw copy is after the fix


@pytest.mark.parametrize("stored_at", [8000, 16000])
def test_telephone_8k(tmp_path, stored_at):
    from affect.audio.denoise import resample

    x = _speechy(3.0, 8000)
    if stored_at != 8000:  # 8 kHz audio that was upsampled: nothing above 4 kHz
        x = resample(x, 8000, stored_at)
    info = _run(tmp_path, _wav(tmp_path, x, stored_at), 3.0)
    assert info["source_rate"] == stored_at and info["input"]["narrowband"]
    assert info["input"]["bandwidth_hz"] <= 4200
    assert any("narrow-band" in p for p in info["problems"]) and info["status"] == "ok"


def test_six_channels(tmp_path):
    x = np.zeros((48000, 6), np.float32)
    x[:, 2] = _speechy(3.0, 16000)  # dialogue in the centre channel of a 5.1 track
    x[:, 0] = x[:, 1] = 0.02 * np.random.default_rng(1).standard_normal(48000)
    info = _run(tmp_path, _wav(tmp_path, x, 16000), 3.0)
    assert info["source_channels"] == 6 and info["input"]["channels"] == 6
    assert "6 channels averaged to mono" in info["problems"] and info["status"] == "ok"
    assert info["speech_s"] > 0.5


def test_silence_only(tmp_path):
    info = _run(tmp_path, _wav(tmp_path, np.zeros(48000, np.float32), 16000), 3.0,
                AudioConfig(vad="energy", keep_raw=True))
    assert info["status"] == "silent" and info["speech_s"] == 0 and info["denoise"] == "none"
    assert "the audio track is silent" in info["problems"]
    assert (tmp_path / "out" / RAW_WAVE).is_file()


@pytest.mark.parametrize("audio_s, stated_by", [(2.5, "the audio ends 0.50 s"), (0.5, "audio is 2.50 s shorter")])
def test_shorter_than_the_video(tmp_path, audio_s, stated_by):
    from affect.cache.series import load_series

    info = _run(tmp_path, _wav(tmp_path, _speechy(audio_s, 16000), 16000), 3.0)
    assert info["real_samples"] == int(audio_s * 16000) and info["status"] == "ok"
    assert info["input"]["missing_s"] == pytest.approx(3.0 - audio_s, abs=0.01)
    assert sum(p.startswith(stated_by) for p in info["problems"]) == 1
    assert len([p for p in info["problems"] if "shorter" in p or "audio ends" in p]) == 1  # stated once
    act = load_series(tmp_path / "out" / "activity.npz")
    assert act.mask[:int(audio_s * 31.25) - 1].all() and not act.mask[int(audio_s * 31.25) + 1:].any()


def test_bandwidth():
    assert bandwidth_hz(np.zeros(16000, np.float32), 16000) == 0.0
    assert bandwidth_hz(_speechy(2.0, 16000), 16000) > 6000
