"""Visual backbones: every one builds with random weights and gives its dim; local files load exactly; offline fails fast."""
from __future__ import annotations

import logging
import pickle
import time

import numpy as np
import pytest
import torch

from affect.backbones.registry import create_backbone, get_spec, list_backbones
from affect.backbones.weights import WeightsNotFound

VISUAL = ["clip-vit-l14", "clip-tiny", "resnet50", "seresnet50", "resnet50-tiny", "resnet50-vggface2",
          "senet50-vggface2", "senet-tiny", "eva02-large", "eva02-tiny"]
DIMS = {"clip-vit-l14": 768, "clip-tiny": 384, "resnet50": 2048, "seresnet50": 2048, "resnet50-tiny": 512,
        "resnet50-vggface2": 2048, "senet50-vggface2": 2048, "senet-tiny": 512, "eva02-large": 1024, "eva02-tiny": 192}
LARGE = {"clip-vit-l14", "eva02-large"}  # ~300M parameters: one image, once


@pytest.fixture
def no_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty library cache
    return tmp_path / "checkpoints"


def crops(n: int, size: int = 112, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_registry_lists_the_visual_backbones():
    assert set(VISUAL) <= set(list_backbones("visual"))
    assert {n for n in VISUAL if get_spec(n).tiny} == {"clip-tiny", "resnet50-tiny", "senet-tiny", "eva02-tiny"}


@pytest.mark.parametrize("name", VISUAL)
def test_random_weights_give_the_documented_dim(name, caplog):
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        bb = create_backbone(name, weights="random")
    assert "random weights" in caplog.text
    batch = bb.preprocess(crops(1 if name in LARGE else 3))
    assert batch.shape[1:] == (3, bb.input_size, bb.input_size) and batch.dtype == torch.float32
    out = bb.forward(batch)
    assert out.shape == (len(batch), DIMS[name]) == (len(batch), bb.dim) and out.dtype == np.float32
    assert np.isfinite(out).all()
    info = bb.describe()
    assert info["weights"] == "random" and info["dim"] == DIMS[name] and info["layer"]


def test_transform_is_picklable_and_uses_the_pretrained_statistics():
    bb = create_backbone("resnet50-tiny", weights="random")
    import timm

    cfg = timm.data.resolve_data_config({}, model=bb.model)
    t = pickle.loads(pickle.dumps(bb.transform))
    gray = np.full((1, 224, 224, 3), 128, np.uint8)
    x = t(gray)
    expected = (128 / 255 - np.array(cfg["mean"])) / np.array(cfg["std"])
    assert x.shape == (1, 3, cfg["input_size"][1], cfg["input_size"][2])
    np.testing.assert_allclose(x[0, :, 5, 5].numpy(), expected, rtol=1e-5)
    vgg = create_backbone("senet-tiny", weights="random").transform
    x = vgg(np.full((1, 224, 224, 3), (200, 100, 50), np.uint8))  # RGB in; BGR minus the Caffe mean out
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), [50 - 91.4953, 100 - 103.8827, 200 - 131.0912], rtol=1e-5)


def test_non_finite_rows_stay_non_finite():
    bb = create_backbone("resnet50-tiny", weights="random")
    batch = bb.preprocess(crops(3))
    batch[1] = float("nan")
    out = bb.forward(batch)
    assert np.isfinite(out[[0, 2]]).all() and not np.isfinite(out[1]).any()


@pytest.mark.parametrize("name,arch", [("resnet50-tiny", "resnet10t"), ("eva02-tiny", "eva02_tiny_patch14_224")])
def test_timm_state_dict_file_loads_exactly(name, arch, no_checkpoints, tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    model = timm.create_model(arch, pretrained=False).eval()  # as published: with its classifier
    path = tmp_path / "model.safetensors"
    save_file(model.state_dict(), str(path))
    model.reset_classifier(0)
    x = crops(2, 224)
    for weights in (str(path), "default"):
        if weights == "default":  # the same file found in checkpoints/<name>/
            (no_checkpoints / name).mkdir(parents=True)
            path.rename(no_checkpoints / name / "model.safetensors")
        bb = create_backbone(name, weights=weights)
        with torch.no_grad():
            expected = model(bb.preprocess(x)).numpy()
        np.testing.assert_array_equal(bb.forward(bb.preprocess(x)), expected)
        assert bb.describe()["weights"].endswith("model.safetensors")


def test_open_clip_state_dict_file_loads_exactly(no_checkpoints, tmp_path):
    import open_clip

    torch.manual_seed(2)
    model = open_clip.create_model("ViT-S-32").eval()
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save(model.state_dict(), path)
    bb = create_backbone("clip-tiny", weights=str(path))
    batch = bb.preprocess(crops(2, 224))
    with torch.no_grad():
        expected = model.encode_image(batch).numpy()
    np.testing.assert_array_equal(bb.forward(batch), expected)


def vggface2_pickle(model, path, protocol: int = 2) -> None:
    """The published format: {name: numpy array}, no BatchNorm step counters."""
    weights = {k: v.numpy().copy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    with open(path, "wb") as f:
        pickle.dump(weights, f, protocol=protocol)


def test_vggface2_pickle_loads_exactly(no_checkpoints, tmp_path):
    from affect.backbones.vggface2 import VGGFace2ResNet

    torch.manual_seed(3)
    model = VGGFace2ResNet((1, 1, 1, 1), se=True, width=16)
    for m in model.modules():  # non-trivial BatchNorm statistics, so a missed buffer would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    model.eval()
    (no_checkpoints / "senet-tiny").mkdir(parents=True)
    vggface2_pickle(model, no_checkpoints / "senet-tiny" / "senet50_ft_weight.pkl")
    bb = create_backbone("senet-tiny")  # default: found in checkpoints/senet-tiny/
    batch = bb.preprocess(crops(2, 224))
    with torch.no_grad():
        expected = model(batch).numpy()
    np.testing.assert_array_equal(bb.forward(batch), expected)


def test_vggface2_architecture_fits_the_published_names_and_shapes():
    from affect.backbones.vggface2 import VGGFace2ResNet

    sd = VGGFace2ResNet((3, 4, 6, 3), se=True).state_dict()
    assert sd["fc.weight"].shape == (8631, 2048)
    assert sd["layer2.0.conv1.weight"].shape == (128, 256, 1, 1)  # Caffe: the stride-2 1x1 comes first
    assert sd["layer2.0.downsample.0.weight"].shape == (512, 256, 1, 1)
    assert sd["layer1.0.conv4.weight"].shape == (16, 256, 1, 1) and "layer1.0.conv4.bias" in sd
    assert sd["layer4.2.conv5.weight"].shape == (2048, 128, 1, 1)
    plain = VGGFace2ResNet((3, 4, 6, 3), se=False).state_dict()
    assert not any("conv4" in k for k in plain) and len([k for k in plain if "num_batches" not in k]) == 267  # as torchvision's ResNet-50


def test_vggface2_loader_refuses_bad_files(tmp_path):
    from affect.backbones.vggface2 import VGGFace2ResNet, load_vggface2_pickle

    model = VGGFace2ResNet((1, 1, 1, 1), se=True, width=16)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"conv1.weight": np.zeros(1), "x": logging.getLogger}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_vggface2_pickle(model, evil)
    wrong = tmp_path / "wrong.pkl"
    vggface2_pickle(VGGFace2ResNet((1, 1, 1, 1), se=False, width=16), wrong)
    with pytest.raises(ValueError, match="does not fit"):
        load_vggface2_pickle(model, wrong)


@pytest.mark.parametrize("name", ["clip-vit-l14", "resnet50", "seresnet50", "resnet50-vggface2", "senet50-vggface2",
                                  "eva02-large"])
def test_offline_without_weights_fails_fast_with_the_documented_message(name, no_checkpoints):
    start = time.perf_counter()
    with pytest.raises(WeightsNotFound) as e:
        create_backbone(name)
    assert time.perf_counter() - start < 5
    assert str(no_checkpoints / name) in str(e.value) and f"affect weights fetch {name}" in str(e.value)


def test_unknown_tag_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid tags: openai, .*laion2b_s32b_b82k"):
        create_backbone("clip-vit-l14", weights="no-such-tag")
    with pytest.raises(ValueError, match="valid tags: .*tv_in1k"):
        create_backbone("resnet50", weights="no-such-tag")
