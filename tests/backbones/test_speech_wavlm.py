"""WavLM backbones: frame count and times, layer choice, chunking, from_pretrained, weights rules."""
import numpy as np
import pytest

from affect.backbones.registry import create_backbone, get_spec, list_backbones
from affect.backbones.speech_wavlm import parse_layer
from affect.backbones.weights import WeightsNotFound


@pytest.fixture(scope="module")
def wave10() -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(160000)).astype(np.float32)


def test_registered():
    assert {"wavlm-base-plus", "wavlm-large", "wavlm-tiny"} <= set(list_backbones("speech"))
    assert get_spec("wavlm-tiny").tiny and get_spec("wavlm-large").family == "wavlm"


def test_ten_seconds_give_500_frames(wave10):
    bb = create_backbone("wavlm-tiny", weights="random")
    values, times = bb.encode(wave10)
    assert values.shape == (500, 32) and values.dtype == np.float32 and np.isfinite(values).all()
    assert np.allclose(times, (np.arange(500) + 0.5) / 50)
    assert bb.rate == 50.0 and bb.describe()["layer"] == "sum2"


def test_chunks_match_one_pass(wave10):
    """2 s chunks with 1 s of context: the same frames as one pass, within what the lost context costs."""
    one = create_backbone("wavlm-tiny", weights="random").encode(wave10)[0]
    chunked = create_backbone("wavlm-tiny", weights="random", chunk_s=2.0, batch_size=2).encode(wave10)[0]
    assert np.abs(one - chunked).max() < 0.05 * np.abs(one).max()
    assert np.corrcoef(one.ravel(), chunked.ravel())[0, 1] > 0.999


def test_layer_choice(wave10):
    assert parse_layer("last", 24) == ("one", [24])
    assert parse_layer("sum4", 24) == ("sum", [21, 22, 23, 24])
    assert parse_layer("mean2", 4) == ("mean", [3, 4]) and parse_layer("0", 4) == ("one", [0])
    for bad in ("sum0", "sum25", "25", "max4"):
        with pytest.raises(ValueError, match="WavLM layer"):
            parse_layer(bad, 24)
    x = wave10[:32000]
    one = [create_backbone("wavlm-tiny", weights="random", layer=str(i)).encode(x)[0] for i in (3, 4)]
    summed = create_backbone("wavlm-tiny", weights="random", layer="sum2").encode(x)[0]
    mean = create_backbone("wavlm-tiny", weights="random", layer="mean2").encode(x)[0]
    assert np.allclose(summed, one[0] + one[1], atol=1e-4) and np.allclose(mean, summed / 2, atol=1e-4)


def test_from_pretrained_folder(tmp_path, wave10):
    """The real loading code: a locally saved model folder is loaded with from_pretrained."""
    random_bb = create_backbone("wavlm-tiny", weights="random")
    random_bb.model.save_pretrained(tmp_path / "wavlm")
    loaded = create_backbone("wavlm-tiny", weights=str(tmp_path / "wavlm"))
    assert loaded.weights == str(tmp_path / "wavlm")
    x = wave10[:16000]
    assert np.allclose(loaded.encode(x)[0], random_bb.encode(x)[0], atol=1e-5)


def test_missing_weights_fail_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECT_CHECKPOINTS", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotFound, match="wavlm-base-plus"):
        create_backbone("wavlm-base-plus")


def test_short_and_bad_input():
    bb = create_backbone("wavlm-tiny", weights="random")
    assert bb.encode(np.zeros(100, np.float32))[0].shape == (0, 32)
    assert bb.encode(np.zeros(700, np.float32))[0].shape == (2, 32)
    with pytest.raises(ValueError, match="non-finite"):
        bb.encode(np.full(16000, np.nan, np.float32))
