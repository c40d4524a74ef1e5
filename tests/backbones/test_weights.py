"""Weights resolution (DESIGN §5): explicit path, checkpoints/<name>/, library fallback, clear failure."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from affect.backbones.weights import (WeightsNotFound, checkpoint_dir, looks_like_path, resolve_weights)


@pytest.fixture
def ckpt(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AFFECT_CHECKPOINTS", str(tmp_path / "ckpt"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "ckpt"


def test_random_returns_none_and_warns(ckpt, caplog):
    with caplog.at_level(logging.WARNING):
        assert resolve_weights("m", "random", ["w.pt"], "") is None
    assert "random weights" in caplog.text


def test_explicit_file_and_folder(ckpt, tmp_path):
    f = tmp_path / "x.pt"
    f.write_bytes(b"0")
    assert resolve_weights("m", str(f), ["w.pt"], "") == f
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config.json").write_text("{}")
    assert resolve_weights("m", str(tmp_path / "d"), ["config.json"], "") == tmp_path / "d" / "config.json"
    with pytest.raises(WeightsNotFound, match="does not exist"):
        resolve_weights("m", str(tmp_path / "missing.pt"), ["w.pt"], "")


def test_checkpoints_folder_before_fallback(ckpt):
    assert checkpoint_dir("m") == ckpt / "m"
    (ckpt / "m").mkdir(parents=True)
    (ckpt / "m" / "b.pt").write_bytes(b"0")
    called = []
    got = resolve_weights("m", "default", ["a.pt", "b.pt"], "", fallback=lambda: called.append(1))
    assert got == ckpt / "m" / "b.pt" and not called


def test_fallback_used_then_failure_message(ckpt, tmp_path):
    f = tmp_path / "cached.bin"
    f.write_bytes(b"0")
    assert resolve_weights("m", "default", ["a.pt"], "", fallback=lambda: f) == f

    def offline_hub():
        from huggingface_hub import hf_hub_download

        return hf_hub_download("timm/resnet50.a1_in1k", "model.safetensors", cache_dir=tmp_path / "hf")

    start = time.perf_counter()
    with pytest.raises(WeightsNotFound) as e:
        resolve_weights("resnet50", "default", ["model.safetensors"], "Get it from X.", fallback=offline_hub)
    assert time.perf_counter() - start < 5
    msg = str(e.value)
    assert str(ckpt / "resnet50" / "model.safetensors") in msg
    assert "affect weights fetch resnet50" in msg and msg.endswith("Get it from X.")


def test_looks_like_path():
    assert not looks_like_path("openai") and not looks_like_path("default") and not looks_like_path("random")
    assert looks_like_path("a/b.pt") and looks_like_path("w.safetensors") and looks_like_path("./w")


def test_fetch_fills_checkpoints_then_resolve_finds_it(ckpt):
    from affect.backbones.weights import fetch_weights, register_fetcher

    @register_fetcher("test-fetchable")
    def fetch(dest: Path, weights: str) -> list[Path]:
        dest.mkdir(parents=True)
        (dest / "w.pt").write_bytes(b"0")
        return [dest / "w.pt"]

    assert fetch_weights("test-fetchable") == [ckpt / "test-fetchable" / "w.pt"]
    assert resolve_weights("test-fetchable", "default", ["w.pt"], "") == ckpt / "test-fetchable" / "w.pt"


def test_cli_weights_list_and_failed_fetch_leaves_nothing(ckpt, capsys):
    from affect.cli import main

    assert main(["weights", "list"]) == 0
    listing = capsys.readouterr().out
    assert "clip-vit-l14" in listing and "resnet50-vggface2" in listing and str(ckpt) in listing
    assert main(["weights", "fetch", "resnet50", "senet-tiny"]) == 1  # offline; senet-tiny has no published weights
    assert not (ckpt / "resnet50").exists() and not (ckpt / "senet-tiny").exists()
