"""open_clip backbones: CLIP ViT-L/14 (tag `openai` by default) and a small CLIP for tests and the demo.

Features = the CLIP image embedding (the vision tower's projected output, before L2
normalisation); the text tower is dropped after loading. Input size, mean, std and
interpolation come from open_clip's preprocess config of the model and pretrained tag.
Weights: `weights` is `default` (the registered tag), another open_clip tag of
the same architecture (an unknown one fails listing the valid tags), a file, or `random`;
files are looked for in `checkpoints/<name>/` (`open_clip_model.safetensors` or
`open_clip_pytorch_model.bin`; another tag in `checkpoints/<name>/<tag>/`), then in the
Hugging Face cache / download (`open_clip.download_pretrained`); the file found is loaded by
open_clip (`create_model(arch, pretrained=<file>)`) with the tag's QuickGELU and
preprocessing settings. An explicit file is taken as weights of the registered default tag.
"""
from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from affect.backbones.registry import register_backbone
from affect.backbones.visual_torch import ImageTransform, TorchVisualBackbone, interpolation_name
from affect.backbones.weights import DEFAULT, RANDOM, looks_like_path, offline, register_fetcher, resolve_weights

log = logging.getLogger(__name__)

FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")

# name -> (open_clip architecture, default tag ("" = none published), description, tiny)
CLIP_MODELS: dict[str, tuple[str, str, str, bool]] = {
    "clip-vit-l14": ("ViT-L-14", "openai", "CLIP ViT-L/14 image embedding (open_clip; OpenAI weights)", False),
    "clip-tiny": ("ViT-S-32", "", "small CLIP for tests/demo (open_clip ViT-S-32, no published weights)", True),
}
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def choose_tag(name: str, arch: str, default_tag: str, weights: str) -> str:
    """The open_clip tag `weights` asks for (default -> the registered one); an unknown tag lists the valid ones."""
    import open_clip

    if weights in (DEFAULT, RANDOM) or looks_like_path(weights):
        return default_tag
    tags = open_clip.list_pretrained_tags_by_model(arch)
    if weights not in tags:
        raise ValueError(f"backbone {name!r}: unknown open_clip pretrained tag {weights!r} for {arch}; "
                         f"valid tags: {', '.join(tags) or '(none published)'} (or default, random, a file path)")
    return weights


def _fallback(tag_cfg: dict[str, Any]) -> Path | None:
    import open_clip

    if offline() and not tag_cfg.get("hf_hub"):
        return None  # a plain URL download cannot be told to stay offline: do not try it
    return Path(open_clip.download_pretrained(tag_cfg))


def build_clip(name: str, weights: str = DEFAULT, amp: bool = True) -> TorchVisualBackbone:
    import open_clip

    arch, default_tag, description, _ = CLIP_MODELS[name]
    tag = choose_tag(name, arch, default_tag, weights)
    tag_cfg = open_clip.get_pretrained_cfg(arch, tag) if tag else {}
    filenames = (*(FILES if tag == default_tag else ()), *((f"{tag}/{f}" for f in FILES) if tag else ()))
    path = resolve_weights(name, weights, filenames, fetch_hint=f"(open_clip {arch}, tag {tag or 'none'})",
                           fallback=partial(_fallback, tag_cfg) if tag_cfg else None)
    preprocess = {k: tag_cfg[k] for k in _PREPROCESS_KEYS if k in tag_cfg}
    model = open_clip.create_model(arch, pretrained=None if path is None else str(path),
                                   force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
                                   force_preprocess_cfg=preprocess or None)
    visual = model.visual
    del model  # the text tower is not needed
    pp = visual.preprocess_cfg
    size = pp["size"] if isinstance(pp["size"], int) else pp["size"][0]
    transform = ImageTransform(size=int(size), mean=tuple(pp["mean"]), std=tuple(pp["std"]),
                               interpolation=interpolation_name(pp["interpolation"]))
    return TorchVisualBackbone(name, visual, transform, dim=visual.output_dim,
                               layer="CLIP image embedding (projected, not L2-normalised)",
                               weights=RANDOM if path is None else str(path),
                               info={"family": "open_clip", "architecture": arch, "tag": tag or None,
                                     "quick_gelu": bool(tag_cfg.get("quick_gelu", False)),
                                     "description": description}, amp=amp)


def _fetch(name: str, dest: Path, weights: str) -> list[Path]:
    import open_clip
    from huggingface_hub import hf_hub_download

    arch, default_tag, _, _ = CLIP_MODELS[name]
    tag = choose_tag(name, arch, default_tag, weights)
    hub = open_clip.get_pretrained_cfg(arch, tag).get("hf_hub", "")
    if not hub:
        raise RuntimeError(f"{name}: tag {tag} has no Hugging Face copy; download "
                           f"{open_clip.get_pretrained_url(arch, tag)} into {dest}")
    repo, filename = hub.rstrip("/"), None
    if not hub.endswith("/"):
        repo, filename = hub.rsplit("/", 1)
    folder = dest if tag == default_tag else dest / tag
    for candidate in ((filename,) if filename else FILES):
        try:
            got = Path(hf_hub_download(repo, candidate, local_dir=folder))
            return [got if got.name in FILES else got.rename(folder / FILES[1])]
        except Exception as e:
            last = e
    raise last


for _name, (_arch, _tag, _description, _tiny) in CLIP_MODELS.items():
    register_backbone(_name, modality="visual", family="open_clip", description=_description,
                      tiny=_tiny)(partial(build_clip, _name))
    if _tag:  # open_clip publishes weights for it
        register_fetcher(_name)(partial(_fetch, _name))
