"""Face-pretrained backbones: VGGFace2 ResNet-50 and SE-ResNet-50 (architecture in `vggface2.py`).

Weights: `weights` is `default` (= tag `ft`: pre-trained on MS1M, fine-tuned on
VGGFace2), `scratch` (VGGFace2 only), a file (`.pkl` in the published format, or a `.pth`
state dict with the same names), or `random`. Files are looked for as
`checkpoints/<name>/<arch>_<tag>_weight.pkl` (the published names, e.g.
`resnet50_ft_weight.pkl`). No library cache holds them and the published copies are on
Google Drive: `affect weights fetch` downloads them with `gdown` when it is installed, and
otherwise says where to get them.
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from affect.backbones.registry import register_backbone
from affect.backbones.visual_torch import ImageTransform, TorchVisualBackbone
from affect.backbones.weights import DEFAULT, RANDOM, looks_like_path, register_fetcher, resolve_weights

log = logging.getLogger(__name__)

SOURCE = "https://github.com/cydonia999/VGGFace2-pytorch (converted from https://www.robots.ox.ac.uk/~vgg/data/vgg_face2/)"
DRIVE_IDS = {  # the converted weights' Google Drive ids, as published in SOURCE's README
    "resnet50_ft": "1A94PAAnwk6L7hXdBXLFosB_s0SzEhAFU", "senet50_ft": "1YtAtL7Amsm-fZoPQGF4hJBC9ijjjwiMk",
    "resnet50_scratch": "1gy9OJlVfBulWkIEnZhGpOLu084RgHw39", "senet50_scratch": "11Xo4tKir1KF8GdaTCMSbEQ9N4LhshJNP",
}
TAGS = ("ft", "scratch")
INPUT_SIZE = 224

# name -> (published arch, layers, SE, width, description, tiny)
VGGFACE2_MODELS: dict[str, tuple[str, tuple[int, ...], bool, int, str, bool]] = {
    "resnet50-vggface2": ("resnet50", (3, 4, 6, 3), False, 64, "ResNet-50 trained on VGGFace2 (faces)", False),
    "senet50-vggface2": ("senet50", (3, 4, 6, 3), True, 64, "SE-ResNet-50 trained on VGGFace2 (faces)", False),
    "senet-tiny": ("senet50", (1, 1, 1, 1), True, 16, "tiny SE-ResNet of the VGGFace2 family, for tests/demo", True),
}


def weights_filename(arch: str, tag: str) -> str:
    return f"{arch}_{tag}_weight.pkl"


def choose_tag(name: str, weights: str) -> str:
    if weights in (DEFAULT, RANDOM) or looks_like_path(weights):
        return "ft"
    if weights not in TAGS:
        raise ValueError(f"backbone {name!r}: unknown VGGFace2 weights {weights!r}; valid tags: "
                         f"{', '.join(TAGS)} (or default, random, a file path)")
    return weights


def build_vggface2(name: str, weights: str = DEFAULT, amp: bool = True) -> TorchVisualBackbone:
    from affect.backbones.vggface2 import CAFFE_MEAN_BGR, VGGFace2ResNet, load_vggface2_file

    arch, layers, se, width, description, tiny = VGGFACE2_MODELS[name]
    tag = choose_tag(name, weights)
    filename = weights_filename(arch, tag)
    hint = ("(a tiny test architecture: no published weights)" if tiny else
            f"Published as {filename} at {SOURCE}; `affect weights fetch` needs `pip install gdown`.")
    path = resolve_weights(name, weights, [filename], fetch_hint=hint)
    model = VGGFace2ResNet(layers, se=se, width=width)
    if path is not None:
        load_vggface2_file(model, path)
    transform = ImageTransform(size=INPUT_SIZE, mean=CAFFE_MEAN_BGR, std=(1.0, 1.0, 1.0), interpolation="bilinear",
                               scale=1.0, bgr=True)
    return TorchVisualBackbone(name, model, transform, dim=model.num_features,
                               layer="global average pool before the identity classifier",
                               weights=RANDOM if path is None else str(path),
                               info={"family": "vggface2", "architecture": arch, "tag": tag, "layers": list(layers),
                                     "description": description}, amp=amp)


def _fetch(name: str, dest: Path, weights: str) -> list[Path]:
    arch = VGGFACE2_MODELS[name][0]
    tag = choose_tag(name, weights)
    target = dest / weights_filename(arch, tag)
    drive = f"https://drive.google.com/uc?id={DRIVE_IDS[f'{arch}_{tag}']}"
    try:
        import gdown
    except ImportError:
        raise RuntimeError(f"{name}: download {drive} (see {SOURCE}) to {target}, or `pip install gdown` and "
                           f"rerun `affect weights fetch {name}`") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    gdown.download(drive, str(target), quiet=False)
    return [target]


for _name, (_arch, _layers, _se, _width, _description, _tiny) in VGGFACE2_MODELS.items():
    register_backbone(_name, modality="visual", family="vggface2", description=_description,
                      tiny=_tiny)(partial(build_vggface2, _name))
    if not _tiny:
        register_fetcher(_name)(partial(_fetch, _name))
