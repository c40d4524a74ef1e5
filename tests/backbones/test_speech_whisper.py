"""Whisper-encoder backbones: 30 s windows with overlap, stitched and trimmed; from_pretrained."""
import numpy as np
import pytest

from affect.backbones.registry import create_backbone, list_backbones
from affect.backbones.speech_whisper import WINDOW_FRAMES, plan_windows


@pytest.fixture(scope="module")
def tiny():
    return create_backbone("whisper-tiny-random", weights="random")


def test_registered():
    assert {"whisper-base", "whisper-large-v3", "whisper-tiny-random"} <= set(list_backbones("speech"))


def test_ten_seconds_give_500_frames(tiny):
    wave = (0.1 * np.random.default_rng(0).standard_normal(160000)).astype(np.float32)
    values, times = tiny.encode(wave)
    assert values.shape == (500, 32) and values.dtype == np.float32 and np.isfinite(values).all()
    assert np.allclose(times, (np.arange(500) + 0.5) / 50)


@pytest.mark.parametrize("n", [1, 1500, 1501, 2750, 2751, 4750, 30000])
def test_window_plan_covers_every_frame_once(n):
    plan = plan_windows(n, 1250)
    kept = np.concatenate([np.arange(a, b) for _, a, b in plan])
    assert np.array_equal(kept, np.arange(n))
    for s, a, b in plan:
        assert s <= a and b <= s + WINDOW_FRAMES  # every kept frame lies inside its window


def test_95_seconds_stitched_from_single_windows(tiny):
    """A 95 s recording: exactly 4750 frames; in and around every overlap the stitched frames are the
    frames each window gives when encoded alone (the stitch takes the first half of an overlap from
    the earlier window, the second half from the later one)."""
    wave = (0.1 * np.random.default_rng(1).standard_normal(95 * 16000)).astype(np.float32)
    values, times = tiny.encode(wave)
    assert values.shape == (4750, 32) and times[-1] == pytest.approx(94.99)
    plan = plan_windows(4750, tiny.hop_frames)
    assert [s for s, _, _ in plan] == [0, 1250, 2500, 3750]
    for (s1, _, b1), (s2, a2, _) in zip(plan, plan[1:]):
        first = tiny.forward_windows([tiny.window_input(wave, s1)])[0]
        second = tiny.forward_windows([tiny.window_input(wave, s2)])[0]
        overlap = np.arange(s2, s1 + WINDOW_FRAMES)  # 250 frames seen by both windows
        from_first, from_second = overlap[overlap < b1], overlap[overlap >= a2]
        assert len(from_first) == len(from_second) == 125
        np.testing.assert_allclose(values[from_first], first[from_first - s1], atol=1e-5)
        np.testing.assert_allclose(values[from_second], second[from_second - s2], atol=1e-5)


def test_window_input_timing(tiny):
    """Window k reads from sample 320 s + 160, so frame k of it is centred at (s + k + 0.5) / 50 s."""
    wave = np.arange(2_000_000, dtype=np.float32)
    x = tiny.window_input(wave, 1250)
    assert x[0] == 1250 * 320 + 160 and len(x) == 480000
    assert not tiny.window_input(wave[:500000], 1250)[100000:].any()  # zero-padded past the end


def test_from_pretrained_folder(tmp_path, tiny):
    from transformers import WhisperConfig, WhisperModel

    from affect.backbones.speech_whisper import CONFIGS

    model = WhisperModel(WhisperConfig(**CONFIGS["whisper-tiny-random"]))
    model.save_pretrained(tmp_path / "whisper")
    loaded = create_backbone("whisper-tiny-random", weights=str(tmp_path / "whisper"))
    wave = (0.1 * np.random.default_rng(2).standard_normal(32000)).astype(np.float32)
    expected = model.encoder(loaded.features([tiny.window_input(wave, 0)], sampling_rate=16000,
                                             return_tensors="pt")["input_features"]).last_hidden_state
    np.testing.assert_allclose(loaded.encode(wave)[0], expected.detach().numpy()[0, :100], atol=1e-5)
