"""Clips of the test list without predictions: the submission is completed or refused (`predict.missing`).

The challenge server rejects a submission that lacks a video, so a test clip with no prediction
(left out at stage 00, or failed later) is never dropped silently:

- ``fail`` (default): stage 08 stops with one line naming each such clip and why it has none;
- ``zeros``: every frame of the clip gets valence = arousal = 0;
- ``mean``: every frame gets the mean training label (valence, arousal over all valid frames of
  the training split's clips), a constant that uses no validation or test information.

A filled clip needs a trustworthy frame count: a manifest clip's frames, or for a clip rejected
at stage 00 its video's decoded frame count. Without one (no video, unreadable video) the clip
cannot be filled and the stage fails whatever the policy.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

POLICIES = ("fail", "zeros", "mean")
FILLED = "filled.csv"
FILLED_COLUMNS = ["split", "clip", "frames", "policy", "valence", "arousal", "reason"]


@dataclass(frozen=True)
class Gap:
    """A clip of a split that has (or may have) no predictions."""

    clip: str
    reason: str  # why it has none (a stage-00 rejection, a failed prediction)
    frames: int | None  # its frame count when one can be trusted, else None


def check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"predict.missing must be one of {', '.join(POLICIES)}, got {policy!r}")


def rejected_gaps(rejected: pd.DataFrame, split: str) -> dict[str, Gap]:
    """Stage 00's rejected clips of ``split`` as gaps (frame count: the video's, when it could be read)."""
    rows = rejected[rejected["split"] == split]
    return {str(r.clip): Gap(str(r.clip), f"rejected at stage 00: {r.file}: {r.reason}",
                             None if pd.isna(r.video_frames) else int(r.video_frames))
            for r in rows.itertuples()}


def insert_rejected(order: Sequence[str], rejected: pd.DataFrame, split: str) -> list[str]:
    """The split's clips in list order: the manifest's ``order`` with the rejected clips put back
    where stage 00 found them (``position``: how many of the split's manifest clips came before)."""
    out = list(order)
    rows = rejected[(rejected["split"] == split) & ~rejected["clip"].isin(out)]
    placed = rows[rows["position"].notna()] if "position" in rows else rows.iloc[:0]
    for shift, (clip, pos) in enumerate(zip(placed["clip"], placed["position"])):
        out.insert(min(int(pos) + shift, len(out)), str(clip))  # earlier rejected clips sit before it
    out += [str(c) for c in rows["clip"] if str(c) not in out]
    return out


def mean_label(labels: Mapping[str, np.ndarray]) -> np.ndarray:
    """[2] mean of the valid values per dimension over every frame of ``labels`` (0 where none is valid)."""
    if not labels:
        return np.zeros(2, np.float32)
    stacked = np.concatenate([np.asarray(v, np.float64) for v in labels.values()])
    valid = ~np.isnan(stacked)
    count = valid.sum(axis=0)
    total = np.where(valid, stacked, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)


def fill_value(policy: str, mean: np.ndarray | None) -> np.ndarray:
    """[2] the constant a filled clip gets under ``policy`` (``zeros`` or ``mean``)."""
    if policy == "zeros":
        return np.zeros(2, np.float32)
    if policy == "mean":
        if mean is None:
            raise ValueError("predict.missing=mean needs the mean training label")
        return np.asarray(mean, np.float32)
    raise ValueError(f"predict.missing={policy!r} does not fill clips")


def complete(order: Sequence[str], predictions: Mapping[str, np.ndarray], gaps: Mapping[str, Gap],
             policy: str, mean: np.ndarray | None) -> tuple[dict[str, np.ndarray], list[Gap], list[Gap]]:
    """(predictions with the filled clips added, the gaps filled, the gaps left open).

    A clip of ``order`` without predictions is a gap (its reason from ``gaps``); it is filled when
    ``policy`` fills and its frame count is known, else left open (the caller fails on open gaps).
    """
    out = dict(predictions)
    filled, open_ = [], []
    for clip in order:
        if clip in predictions:
            continue
        gap = gaps.get(clip, Gap(clip, "no predictions", None))
        if policy == "fail" or gap.frames is None or gap.frames <= 0:
            open_.append(gap)
            continue
        out[clip] = np.tile(fill_value(policy, mean), (gap.frames, 1))
        filled.append(gap)
    return out, filled, open_


def describe_open(gaps: Sequence[Gap], split: str, policy: str) -> str:
    """One line: the clips a submission lacks, why, and what to do."""
    parts = []
    for g in gaps:
        how = "" if policy == "fail" else (
            " (cannot be filled: its frame count is unknown, no readable video)" if g.frames is None else "")
        parts.append(f"{g.clip}: {g.reason}{how}")
    hint = ("fix the input, or set predict.missing=zeros|mean to submit filled rows" if policy == "fail"
            else "fix the input: a clip without a readable video cannot be filled")
    return f"submission_{split}.csv would lack {len(gaps)} clip(s) of the {split} list: {'; '.join(parts)}; {hint}"


def filled_table(split: str, filled: Sequence[Gap], policy: str, mean: np.ndarray | None) -> pd.DataFrame:
    rows = []
    for g in filled:
        v = fill_value(policy, mean)
        rows.append({"split": split, "clip": g.clip, "frames": g.frames, "policy": policy,
                     "valence": round(float(v[0]), 6), "arousal": round(float(v[1]), 6), "reason": g.reason})
    return pd.DataFrame(rows, columns=FILLED_COLUMNS)
