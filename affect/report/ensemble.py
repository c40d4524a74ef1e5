"""Several trained runs of one model (seeds, folds) averaged into one prediction.

A run named ``<model>@<member>`` (e.g. ``fusion@seed1``, ``unimodal/egemaps@fold2``)
is a member of ``<model>``; a name without ``@`` is a model with one member.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

MEMBER_SEP = "@"


def group_runs(runs: Mapping[str, Path], ensemble: bool = True) -> dict[str, dict[str, Path]]:
    """model -> {run name: run folder}; with ``ensemble=False`` every run is its own model."""
    models: dict[str, dict[str, Path]] = {}
    for name in sorted(runs):
        model = name.split(MEMBER_SEP, 1)[0] if ensemble else name
        models.setdefault(model, {})[name] = Path(runs[name])
    return models


def average(members: Sequence[Mapping[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Mean over members, per clip; returns (predictions, problems: clip -> why it has none).

    A clip gets a prediction only when every member predicted it with the same shape:
    an ensemble silently missing a member on some clips would not be the model it says.
    """
    if not members:
        raise ValueError("average: no members")
    clips = sorted(set().union(*members))
    out: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for clip in clips:
        have = [m[clip] for m in members if clip in m]
        if len(have) < len(members):
            problems[clip] = f"predicted by {len(have)} of {len(members)} ensemble members"
            continue
        shapes = {np.shape(v) for v in have}
        if len(shapes) > 1:
            problems[clip] = f"ensemble members disagree on the shape: {sorted(shapes)}"
            continue
        out[clip] = np.mean(np.stack([np.asarray(v, dtype=np.float32) for v in have]), axis=0).astype(np.float32)
    return out, problems
