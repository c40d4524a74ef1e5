"""Stage 03's per-video track: decode any rate / channel count, fit to the video, the bad cases."""
import json
import logging

import numpy as np
import pytest

from affect.audio.config import AudioConfig
from affect.audio.extract import AudioError, decode_audio
from affect.audio.store import ACTIVITY, INFO, WAVE
from affect.audio.track import make_track
from affect.cache.series import load_series


def _tone(seconds, rate, amp, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_stereo_any_rate_to_16k_mono(tmp_path, make_av, rate):
    left, right = _tone(2.0, rate, 0.4), _tone(2.0, rate, 0.2)
    path = make_av(tmp_path / "v.mp4", 2.0, np.stack([left, right]), rate)
    d = decode_audio(path, 16000)
    assert d.source_rate == rate and d.source_channels == 2 and d.wave.dtype == np.float32
    assert abs(len(d.wave) - 32000) < 16000 * 0.1  # AAC frames round the end up a little
    rms = float(np.sqrt(np.mean(d.wave[4000:28000] ** 2)))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.05)  # channels averaged


def test_track_layout_and_lengths(tmp_path, make_av):
    path = make_av(tmp_path / "v.mp4", 3.0, _tone(3.0, 48000, 0.2)[None], 48000)
    info = make_track(path, 3.0, AudioConfig(vad="energy"), tmp_path / "out")
    wave = np.load(tmp_path / "out" / WAVE)
    act = load_series(tmp_path / "out" / ACTIVITY)
    assert wave.dtype == np.float32 and len(wave) == 48000 == info["samples"]
    assert act.values.shape == (94, 1) and act.mask.all() and act.rate == 31.25
    assert json.loads((tmp_path / "out" / INFO).read_text())["status"] == "ok"


def test_no_audio_is_a_masked_track(tmp_path, make_av):
    path = make_av(tmp_path / "v.mp4", 2.5, None)
    info = make_track(path, 2.5, AudioConfig(), tmp_path / "out")
    act = load_series(tmp_path / "out" / ACTIVITY)
    assert info["status"] == "no-audio" and len(np.load(tmp_path / "out" / WAVE)) == 40000
    assert len(act.times) == 79 and not act.mask.any() and not act.values.any()


def test_short_audio_is_padded_and_masked(tmp_path, make_av, caplog):
    path = make_av(tmp_path / "v.mp4", 6.0, _tone(1.0, 44100, 0.2)[None], 44100)
    with caplog.at_level(logging.WARNING):
        info = make_track(path, 6.0, AudioConfig(vad="energy"), tmp_path / "out")
    act = load_series(tmp_path / "out" / ACTIVITY)
    assert "shorter than the video" in caplog.text and str(path) in caplog.text
    assert len(np.load(tmp_path / "out" / WAVE)) == 96000 and info["problems"]
    assert act.mask[:28].all() and not act.mask[40:].any()


def test_long_audio_is_trimmed(tmp_path, make_av):
    path = make_av(tmp_path / "v.mp4", 1.0, _tone(5.0, 44100, 0.2)[None], 44100)
    info = make_track(path, 1.0, AudioConfig(vad="energy"), tmp_path / "out")
    assert len(np.load(tmp_path / "out" / WAVE)) == 16000 and "longer" in info["problems"][0]


def test_silence(tmp_path, make_av):
    path = make_av(tmp_path / "v.mp4", 2.0, np.zeros((1, 88200), np.float32), 44100)
    info = make_track(path, 2.0, AudioConfig(), tmp_path / "out")
    act = load_series(tmp_path / "out" / ACTIVITY)
    assert info["status"] == "silent" and act.mask.all() and not act.values.any()


def test_nan_samples_are_zeroed_and_masked(tmp_path, monkeypatch):
    from affect.audio import track
    from affect.audio.extract import DecodedAudio

    wave = _tone(2.0, 16000, 0.2)
    wave[16000:16100] = np.nan
    monkeypatch.setattr(track, "decode_audio", lambda path, rate: DecodedAudio(wave.copy(), 16000, 16000, 1, 0.0))
    info = make_track(tmp_path / "x.mp4", 2.0, AudioConfig(vad="energy"), tmp_path / "out")
    act = load_series(tmp_path / "out" / ACTIVITY)
    assert np.isfinite(np.load(tmp_path / "out" / WAVE)).all() and "non-finite" in info["problems"][0]
    assert not act.mask[31] and act.mask[:31].all() and act.mask[32:].all()  # samples 16000-16099: window 31


def test_zero_length_stream(tmp_path, monkeypatch):
    from affect.audio import track
    from affect.audio.extract import DecodedAudio

    monkeypatch.setattr(track, "decode_audio", lambda path, rate: DecodedAudio(np.zeros(0, np.float32), 16000,
                                                                               44100, 2, 0.0))
    info = make_track(tmp_path / "x.mp4", 1.0, AudioConfig(), tmp_path / "out")
    assert info["status"] == "empty" and not load_series(tmp_path / "out" / ACTIVITY).mask.any()


def test_corrupt_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(AudioError, match="broken.mp4"):
        decode_audio(bad)


def test_of_two_audio_streams_the_default_one_is_used_and_recorded(tmp_path, caplog):
    import subprocess

    from tests.data.clock_media import ffmpeg

    path = tmp_path / "two.mkv"  # commentary (440 Hz, first) and the main track (1 kHz, flagged default)
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=gray:s=32x32:r=25:d=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-f", "lavfi", "-i",
                    "sine=frequency=1000:duration=2", "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264",
                    "-c:a", "aac", "-metadata:s:a:1", "language=eng", "-disposition:a:0", "0",
                    "-disposition:a:1", "default", str(path)], check=True)
    with caplog.at_level(logging.INFO):
        info = make_track(path, 2.0, AudioConfig(vad="energy", denoise="none"), tmp_path / "out")
    wave = np.load(tmp_path / "out" / WAVE)
    spectrum = np.abs(np.fft.rfft(wave[:16000]))  # 1 s: bin = Hz
    assert int(np.argmax(spectrum)) == 1000
    assert info["audio_stream"].startswith("2 of 2 (default, eng")
    assert "several audio streams; using stream 2 of 2" in caplog.text
