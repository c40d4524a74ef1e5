"""`AlignConfig`, `UnimodalConfig`, `FusionConfig`: the typed configs of stages 05-07."""
from __future__ import annotations

from dataclasses import dataclass, field

NOHASH = {"hash": False}


@dataclass
class AlignConfig:
    """Stage 05 `align`: every feature set and the labels on each clip's time grid."""

    hop: float = 0.25  # grid hop in seconds; 0 = each video's own frame rate


@dataclass
class UnimodalConfig:
    """Stage 06 `unimodal`: one temporal regressor per feature set, and their ranking."""

    model: str = "gru"  # gru | tcn | transformer


@dataclass
class FusionConfig:
    """Stage 07 `fusion`: the cross-modal attention fusion regressor and the baselines."""

    features: list[str] = field(default_factory=list)  # feature sets by name; empty = the top `top_k` of the ranking
    top_k: int = 3  # with features empty: how many of the unimodal ranking's best to fuse
