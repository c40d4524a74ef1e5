"""timm backbones: ResNet-50, SE-ResNet-50, EVA02-Large and tiny variants for tests and the demo.

Features = timm's pooled pre-classifier output (`num_classes=0`). Input size, interpolation,
mean and std come from the model's `pretrained_cfg` (`timm.data.resolve_data_config`: the
size the weights were trained at, not timm's larger test size: the crops are 224 px). Weights: `weights` is `default` (the tag in `TIMM_MODELS`), another timm tag
of the same architecture (e.g. `tv_in1k`), a file, or `random`; files are looked for in
`checkpoints/<name>/` (`model.safetensors` or `pytorch_model.bin`; another tag in
`checkpoints/<name>/<tag>/`), then in the Hugging Face cache, then downloaded; the file found is
loaded by timm itself (`pretrained=True, pretrained_cfg_overlay=dict(file=...)`), which
drops the classifier and adapts checkpoints of the original repositories (EVA02).
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from affect.backbones.registry import register_backbone
from affect.backbones.visual_torch import ImageTransform, TorchVisualBackbone, interpolation_name
from affect.backbones.weights import DEFAULT, RANDOM, looks_like_path, register_fetcher, resolve_weights

log = logging.getLogger(__name__)

HF_FILES = ("model.safetensors", "pytorch_model.bin")

# name -> (timm model.tag, description, tiny)
TIMM_MODELS: dict[str, tuple[str, str, bool]] = {
    "resnet50": ("resnet50.a1_in1k", "ResNet-50, ImageNet-1k (timm A1 recipe)", False),
    "seresnet50": ("seresnet50.a1_in1k", "SE-ResNet-50, ImageNet-1k (timm A1 recipe)", False),
    "eva02-large": ("eva02_large_patch14_224.mim_m38m",
                    "EVA02-Large/14 at 224 px, MIM-pretrained on Merged-38M (no classifier fine-tune)", False),
    "resnet10t": ("resnet10t.c3_in1k", "ResNet-10t, a small ResNet for tests and the demo (timm, ImageNet-1k)", True),
    "eva02-tiny": ("eva02_tiny_patch14_224.mim_in22k", "EVA02-Tiny/14 at 224 px, MIM on ImageNet-22k", True),
}
ALIASES = {"resnet50-tiny": "resnet10t"}  # old names, kept working with a deprecation line
TIMM_MODELS.update({old: TIMM_MODELS[new] for old, new in ALIASES.items()})


def split_tag(model_tag: str) -> tuple[str, str]:
    arch, _, tag = model_tag.partition(".")
    return arch, tag


def valid_tags(arch: str) -> list[str]:
    import timm

    return [split_tag(m)[1] for m in timm.list_pretrained(f"{arch}.*")]


def choose_tag(name: str, arch: str, default_tag: str, weights: str) -> str:
    """The timm tag `weights` asks for (default -> the registered one); an unknown tag lists the valid ones."""
    if weights in (DEFAULT, RANDOM) or looks_like_path(weights):
        return default_tag
    tags = valid_tags(arch)
    if weights not in tags:
        raise ValueError(f"backbone {name!r}: unknown timm pretrained tag {weights!r} for {arch}; "
                         f"valid tags: {', '.join(tags)} (or default, random, a file path)")
    return weights


def _hf_fallback(hf_hub_id: str) -> Path | None:
    from huggingface_hub import hf_hub_download

    for filename in HF_FILES:
        try:
            return Path(hf_hub_download(hf_hub_id, filename))
        except Exception as e:  # not in the cache and no download possible
            last = e
    raise last


def build_timm(name: str, weights: str = DEFAULT, amp: bool = True) -> TorchVisualBackbone:
    import timm

    model_tag, description, _ = TIMM_MODELS[name]
    arch, default_tag = split_tag(model_tag)
    tag = choose_tag(name, arch, default_tag, weights)
    variant = f"{arch}.{tag}"
    filenames = HF_FILES if tag == default_tag else ()
    filenames = (*filenames, *(f"{tag}/{f}" for f in HF_FILES))
    hf_hub_id = timm.models.get_pretrained_cfg(variant).hf_hub_id
    path = resolve_weights(name, weights, filenames, fetch_hint=f"(timm {variant}, Hugging Face {hf_hub_id})",
                           fallback=partial(_hf_fallback, hf_hub_id) if hf_hub_id else None)
    if path is None:
        model = timm.create_model(variant, pretrained=False, num_classes=0)
    else:
        model = timm.create_model(variant, pretrained=True, num_classes=0,
                                  pretrained_cfg_overlay=dict(file=str(path)))
    cfg = timm.data.resolve_data_config({}, model=model, use_test_size=False)
    size = int(cfg["input_size"][-1])
    transform = ImageTransform(size=size, mean=tuple(cfg["mean"]), std=tuple(cfg["std"]),
                               interpolation=interpolation_name(cfg["interpolation"]))
    return TorchVisualBackbone(name, model, transform, dim=model.num_features,
                               layer="pooled pre-classifier features (timm num_classes=0)",
                               weights=RANDOM if path is None else str(path),
                               info={"family": "timm", "timm_model": variant, "description": description}, amp=amp)


def _fetch(name: str, dest: Path, weights: str) -> list[Path]:
    import timm
    from huggingface_hub import hf_hub_download

    arch, default_tag = split_tag(TIMM_MODELS[name][0])
    tag = choose_tag(name, arch, default_tag, weights)
    hf_hub_id = timm.models.get_pretrained_cfg(f"{arch}.{tag}").hf_hub_id
    folder = dest if tag == default_tag else dest / tag
    for filename in HF_FILES:
        try:
            return [Path(hf_hub_download(hf_hub_id, filename, local_dir=folder))]
        except Exception as e:
            last = e
    raise last


for _name, (_model, _description, _tiny) in TIMM_MODELS.items():
    register_backbone(_name, modality="visual", family="timm", description=_description,
                      tiny=_tiny, alias_of=ALIASES.get(_name, ""))(partial(build_timm, _name))
    register_fetcher(_name)(partial(_fetch, _name))
