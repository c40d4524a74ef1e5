"""Which video frames stage 02 embeds: every frame, or only those the time grid needs.

`visual.sample=grid` with grid hop `h` (`align.hop`): for each grid step k, covering
[k h, (k+1) h), the frame whose centre (i + 0.5) / fps lies in the step and is nearest the
step's centre, preferring frames that have a face crop (a face elsewhere in the step is a real
observation of that step; none is invented). A step with no frame centre inside it (hop shorter
than a frame) takes the frame holding its centre. With hop <= 1/fps, or hop 0 (the video's own
rate), every frame is taken. Rows are sorted frame indices, each once.
"""
from __future__ import annotations

import numpy as np

from affect.timegrid import Grid, frame_times


def sample_frames(frames: int, fps: float, hop: float, has_crop: np.ndarray | None = None) -> np.ndarray:
    """int64 frame indices to embed for a clip of `frames` frames at `fps` on a grid of `hop` seconds (0 = all)."""
    if frames <= 0:
        return np.zeros(0, np.int64)
    if hop <= 0 or hop <= 1.0 / fps + 1e-12:
        return np.arange(frames, dtype=np.int64)
    grid = Grid(hop)
    steps = grid.num_steps(frames / fps)
    centres = frame_times(frames, fps)
    step_of = grid.index(centres)  # which step each frame centre falls in
    has = np.ones(frames, bool) if has_crop is None else np.asarray(has_crop, bool)[:frames]
    # rank frames: by step, then no-face last, then distance to the step's centre
    dist = np.abs(centres - grid.times(steps)[np.minimum(step_of, steps - 1)])
    order = np.lexsort((dist, ~has, step_of))
    first = np.unique(step_of[order], return_index=True)[1]
    chosen = set(order[first].tolist())
    empty = np.setdiff1d(np.arange(steps), step_of)  # steps no frame centre falls in
    chosen.update(np.minimum((grid.times(steps)[empty] * fps).astype(np.int64), frames - 1).tolist())
    return np.array(sorted(chosen), dtype=np.int64)
