"""Regressors trained on cached features: temporal (one or concatenated feature sets) and fusion.

A model is described by a plain ``spec`` dict (JSON- and ``weights_only``-safe) stored with its
checkpoint; ``build_model(spec)`` rebuilds it.
"""
from __future__ import annotations

from typing import Any

MODEL_KINDS = ("temporal", "fusion")


def build_model(spec: dict[str, Any]):
    """spec: {"kind": temporal|fusion, "features": [...], "dims": {name: D}, "substeps": {name: k}, hparams}."""
    from affect.models.fusion import CrossModalFusion
    from affect.models.temporal import TemporalRegressor

    common = dict(features=spec["features"], dims=spec["dims"], hidden=spec["hidden"], layers=spec["layers"],
                  dropout=spec["dropout"], heads=spec.get("heads", 4), substeps=spec.get("substeps", {}))
    if spec["kind"] == "temporal":
        return TemporalRegressor(kind=spec["model"], **common)
    if spec["kind"] == "fusion":
        return CrossModalFusion(modality_dropout=spec.get("modality_dropout", 0.0), **common)
    raise ValueError(f"unknown model kind {spec['kind']!r}; kinds: {', '.join(MODEL_KINDS)}")
