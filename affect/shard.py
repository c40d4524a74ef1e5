"""Splitting a stage's clips across processes: `torchrun` ranks, or plain processes given `k/n`.

No process group and no collective call: each rank takes a fixed share of the clips (from
the manifest alone, so every rank computes the same split), writes its clips' folders, and
whichever rank finds every clip accounted for writes the stage's done marker.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1

    def __post_init__(self) -> None:
        if not (self.world >= 1 and 0 <= self.rank < self.world):
            raise ValueError(f"shard {self.rank}/{self.world}: need 0 <= rank < world")

    def __str__(self) -> str:
        return f"{self.rank}/{self.world}"


def current_shard(spec: str = "") -> Shard:
    """`spec` "k/n" (k = 0..n-1), else torchrun's `RANK`/`WORLD_SIZE`, else the whole stage (0/1)."""
    if spec:
        try:
            rank, world = (int(x) for x in spec.split("/"))
        except ValueError:
            raise ValueError(f"shard must be 'k/n' with 0 <= k < n, got {spec!r}") from None
        return Shard(rank, world)
    return Shard(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))


def assign(weights: np.ndarray | list[float], world: int) -> np.ndarray:
    """Rank of each item: greedy longest-first onto the least-loaded rank (deterministic; ties -> lower rank)."""
    weights = np.asarray(weights, dtype=np.float64)
    ranks = np.zeros(len(weights), np.int64)
    load = np.zeros(world)
    for i in np.argsort(-weights, kind="stable"):
        r = int(np.argmin(load))
        ranks[i] = r
        load[r] += weights[i]
    return ranks
