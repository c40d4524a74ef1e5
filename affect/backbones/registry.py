"""The backbone registry: a name -> constructor table, like timm's `register_model`.

    @register_backbone("resnet50", modality="visual", family="timm", description="...")
    def resnet50(weights: str = "default", **kwargs) -> VisualBackbone: ...

    list_backbones("visual")              # registered names
    create_backbone("resnet50", weights="random")

Modules holding backbones are imported on first use of the registry (`_MODULES`), so that
importing `affect` pays for no model library.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

from affect.backbones.base import Backbone

# modules whose import registers backbones; add a module here when adding a family
_MODULES: tuple[str, ...] = ("affect.backbones.speech_opensmile", "affect.backbones.landmarks", "affect.backbones.dlib_face",
                             "affect.backbones.visual_timm", "affect.backbones.visual_clip",
                             "affect.backbones.visual_vggface2", "affect.backbones.speech_wavlm",
                             "affect.backbones.speech_whisper")


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    modality: str  # visual | speech
    family: str  # the library or model family (timm, open_clip, vggface2, wavlm, whisper, opensmile, dlib...)
    factory: Callable[..., Backbone]
    description: str = ""
    tiny: bool = False  # a small variant for tests and the demo
    alias_of: str = ""  # a deprecated name: the same architecture and weights as `alias_of`


_REGISTRY: dict[str, BackboneSpec] = {}
_loaded = False


def register_backbone(name: str, *, modality: str, family: str, description: str = "", tiny: bool = False,
                      alias_of: str = ""):
    """Register `name`; `alias_of` marks an old name kept working (one deprecation line when it is used)."""
    if modality not in ("visual", "speech"):
        raise ValueError(f"backbone {name!r}: modality must be 'visual' or 'speech', got {modality!r}")

    def decorator(factory: Callable[..., Backbone]) -> Callable[..., Backbone]:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"backbone {name!r} is registered twice")
        _REGISTRY[name] = BackboneSpec(name, modality, family, factory, description, tiny, alias_of)
        return factory

    return decorator


def _load_all() -> None:
    global _loaded
    if not _loaded:
        for module in _MODULES:
            importlib.import_module(module)
        _loaded = True


def get_spec(name: str) -> BackboneSpec:
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown backbone {name!r}; registered: {', '.join(list_backbones(aliases=False))}")
    spec = _REGISTRY[name]
    if spec.alias_of:  # said once per run: the console's OncePerRun filter (affect.log) drops repeats
        logging.getLogger(__name__).warning(
            "backbone %r is a deprecated name of %r (the same architecture and weights); use %r", name,
            spec.alias_of, spec.alias_of)
    return spec


def list_backbones(modality: str | None = None, aliases: bool = True) -> list[str]:
    """Registered names (`aliases=False`: without the deprecated old names)."""
    _load_all()
    return sorted(n for n, s in _REGISTRY.items()
                  if (modality is None or s.modality == modality) and (aliases or not s.alias_of))


_kept: dict[tuple, Backbone] | None = None  # set inside `keep_backbones`


def create_backbone(name: str, weights: str = "default", **kwargs: Any) -> Backbone:
    """Build a registered backbone. `weights`: default | random | a file or folder path | a pretrained tag.
    Inside `keep_backbones`, the same call returns the instance it built the first time."""
    spec = get_spec(name)
    if _kept is None:
        return spec.factory(weights=weights, **kwargs)
    key = (spec.name, str(weights), tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
    if key not in _kept:
        _kept[key] = spec.factory(weights=weights, **kwargs)
    return _kept[key]


@contextmanager
def keep_backbones(kept: dict[tuple, Backbone]) -> Iterator[dict[tuple, Backbone]]:
    """Within the block, backbones are built once per (name, weights, options) and kept in ``kept``, which
    the caller holds across blocks: `affect infer` runs stages 01-05 once per video, and would otherwise
    build (and load the weights of) every backbone again for each one. Stages themselves never keep them:
    a pipeline run frees a stage's backbones before the next stage loads its own."""
    global _kept
    outer, _kept = _kept, kept
    try:
        yield kept
    finally:
        _kept = outer
