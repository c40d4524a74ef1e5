"""A bundle's frame predictions for one clip of a stage-05 folder, made exactly as stage 08 makes them.

Each member predicts the clip's grid (`affect.train.infer.predict_clip`, overlapping windows
averaged), its grid goes onto every frame (`affect.report.frames.to_video_frames`), a stacked
model's candidates are combined with its weights (`affect.train.stacking.combine`), the members
are averaged (`affect.report.ensemble.average`: a new video was trained on by no member, so
every member counts) and the bundle's smoothing windows are applied
(`affect.report.smoothing.Smoothing.apply`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect.bundle.format import Bundle


@dataclass
class ClipPrediction:
    raw: np.ndarray  # [frames, 2] float32: the members' mean, before smoothing
    final: np.ndarray  # [frames, 2] float32 in [-1, 1]: smoothed as the bundle says


def predict_aligned(bundle: Bundle, align_dir: Path, clip: str, frames: int, fps: float,
                    device: str = "cpu") -> ClipPrediction:
    from affect.report.ensemble import average
    from affect.report.frames import PredictionError, check_grid_predictions, to_video_frames
    from affect.timegrid import Grid
    from affect.train.aligned import load_clip
    from affect.train.infer import predict_clip

    grids, hop = {}, None
    for m in bundle.members:
        aligned = load_clip(align_dir, clip, m.features)
        grid = predict_clip(m.model(device), aligned, m.features, m.norm, m.spec["window"],
                            m.spec.get("substeps") or {}, device)
        grids[m.name], hop = check_grid_predictions(clip, grid, aligned.steps), float(aligned.hop)
    stacks = bundle.info.get("stacks") or []
    if stacks:  # stage 07's stacked fusion: per stack run, its weights over the candidates' mean grids
        from affect.train.stacking import combine

        grids = {s["run"]: combine([np.mean([grids[r] for r in c["runs"]], axis=0) for c in s["candidates"]],
                                   np.asarray(s["weights"], np.float64)) for s in stacks}
    per_member = [{clip: to_video_frames(clip, g, Grid(hop), frames, fps)} for g in grids.values()]
    raw, problems = average(per_member)
    if clip not in raw:
        raise PredictionError(clip, problems.get(clip, "no prediction"))
    final = bundle.smoothing.apply(raw[clip], fps)
    return ClipPrediction(raw=raw[clip], final=final)
