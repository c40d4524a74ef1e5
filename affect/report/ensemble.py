"""Several trained runs of one model (seeds, folds) averaged into one prediction.

A run named ``<model>@<member>`` (e.g. ``fusion@seed1``, ``unimodal/egemaps@fold2``)
is a member of ``<model>``; a name without ``@`` is a model with one member. A member never
predicts a clip it trained on while another member held that clip out (``average``).
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


def average(members: Sequence[Mapping[str, np.ndarray]],
            trained_on: Sequence[set[str]] | None = None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Mean over members, per clip; returns (predictions, problems: clip -> why it has none).

    ``trained_on[i]``: the clips member i trained on. A clip is averaged over the members that
    did not train on it when there are any (cross-validation folds: each labelled clip gets the
    runs that held it out; test clips get every run), else over all members (a clip every
    member trained on). A clip gets a prediction only when every member of its pool predicted
    it with the same shape: an ensemble silently missing a member would not be the model it says.
    """
    if not members:
        raise ValueError("average: no members")
    trained_on = list(trained_on) if trained_on is not None else [set() for _ in members]
    clips = sorted(set().union(*members))
    out: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for clip in clips:
        pool = [m for m, seen in zip(members, trained_on) if clip not in seen] or list(members)
        have = [m[clip] for m in pool if clip in m]
        if len(have) < len(pool):
            problems[clip] = f"predicted by {len(have)} of {len(pool)} ensemble members"
            continue
        shapes = {np.shape(v) for v in have}
        if len(shapes) > 1:
            problems[clip] = f"ensemble members disagree on the shape: {sorted(shapes)}"
            continue
        out[clip] = np.mean(np.stack([np.asarray(v, dtype=np.float32) for v in have]), axis=0).astype(np.float32)
    return out, problems
