"""Several trained runs of one model (seeds, folds) averaged into one prediction.

A run named ``<model>@<member>`` (e.g. ``fusion@seed1``, ``unimodal/egemaps@fold2``)
is a member of ``<model>``; a name without ``@`` is a model with one member. A member never
predicts a clip it trained on; a clip every member trained on gets no prediction unless the
caller asks for in-sample predictions of it by name (``average``).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
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


IN_SAMPLE_REFUSED = "every member trained on this clip: no out-of-sample prediction (in-sample predictions are never scored)"


def average(members: Sequence[Mapping[str, np.ndarray]],
            trained_on: Sequence[set[str]] | None = None,
            in_sample: Collection[str] = ()) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Mean over members, per clip; returns (predictions, problems: clip -> why it has none).

    ``trained_on[i]``: the clips member i saw the labels of (fitted on, or chose on as its inner
    development set). A clip is averaged over the members that did not see it (cross-validation
    folds: each labelled clip gets the runs that held it out; test clips get every run). A clip
    that every member saw gets no prediction (a problem with the reason), so it can never be
    scored as if unseen; only the clips named in ``in_sample`` (predictions of training clips a
    user asked for) are then averaged over all members, and the caller must mark them
    (``in_sample_clips``). A clip gets a prediction only when every member of its pool predicted
    it with the same shape: an ensemble silently missing a member would not be the model it says.
    """
    if not members:
        raise ValueError("average: no members")
    trained_on = list(trained_on) if trained_on is not None else [set() for _ in members]
    wanted = set(in_sample)
    clips = sorted(set().union(*members))
    out: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for clip in clips:
        pool = [m for m, seen in zip(members, trained_on) if clip not in seen]
        if not pool:
            if clip not in wanted:
                problems[clip] = IN_SAMPLE_REFUSED
                continue
            pool = list(members)
        mean, why = _pool_mean(clip, pool)
        if why:
            problems[clip] = why
        else:
            out[clip] = mean
    return out, problems


def in_sample_clips(clips: Iterable[str], trained_on: Sequence[set[str]]) -> list[str]:
    """The clips every member saw: what ``average`` could only predict in sample."""
    return sorted(c for c in clips if trained_on and all(c in seen for seen in trained_on))


def selection_average(members: Sequence[Mapping[str, np.ndarray]],
                      dev_of: Sequence[set[str]]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Each inner-development clip averaged over the members whose development set it is in (none trained
    on it); what early stopping, rankings and smoothing windows are chosen on with ``train.select=dev``."""
    out: dict[str, np.ndarray] = {}
    problems: dict[str, str] = {}
    for clip in sorted(set().union(*dev_of)) if dev_of else []:
        mean, why = _pool_mean(clip, [m for m, dev in zip(members, dev_of) if clip in dev])
        if why:
            problems[clip] = why
        else:
            out[clip] = mean
    return out, problems


def _pool_mean(clip: str, pool: Sequence[Mapping[str, np.ndarray]]) -> tuple[np.ndarray | None, str]:
    have = [m[clip] for m in pool if clip in m]
    if len(have) < len(pool):
        return None, f"predicted by {len(have)} of {len(pool)} ensemble members"
    shapes = {np.shape(v) for v in have}
    if len(shapes) > 1:
        return None, f"ensemble members disagree on the shape: {sorted(shapes)}"
    return np.mean(np.stack([np.asarray(v, dtype=np.float32) for v in have]), axis=0).astype(np.float32), ""
