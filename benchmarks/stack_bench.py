"""Time stage 07's stack fit (`affect.train.stacking.fit_stack`) as the selection set grows.

    python -u benchmarks/stack_bench.py [--candidates 6] [--mode auto] [--sizes 8x200 16x200 32x200 200x3000]

Each size is VIDEOSxSTEPS: that many selection videos (one clip each) of that many grid steps
(0.25 s each: 3,000 steps is 12.5 minutes of video, about an Aff-Wild2 video). Labels are smooth
random walks in [-1, 1]; each candidate is the label scaled by a random factor plus noise, clipped,
so the candidates differ in quality as real ones do. Prints the seconds of one `fit_stack` call
(both dimensions, the held-out weights and `auto`'s nested choice included) and the modes chosen.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from affect.train.stacking import MODES, fit_stack


def corpus(videos: int, steps: int, candidates: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels, preds, video_of = {}, {f"c{i}": {} for i in range(candidates)}, {}
    quality = rng.uniform(0, 1, candidates)
    for v in range(videos):
        clip = f"v{v:04d}"
        y = np.tanh(rng.standard_normal((steps, 2)).cumsum(0) * 0.05)
        labels[clip], video_of[clip] = y, clip
        for i in range(candidates):
            noisy = y * quality[i] + 0.5 * rng.standard_normal((steps, 2))
            preds[f"c{i}"][clip] = np.clip(noisy, -1, 1).astype(np.float32)
    return preds, labels, video_of


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--candidates", type=int, default=6)
    ap.add_argument("--mode", default="auto", choices=MODES)
    ap.add_argument("--sizes", nargs="+", default=["8x200", "16x200", "32x200", "200x3000"])
    args = ap.parse_args()
    print(f"fit_stack(mode={args.mode}), {args.candidates} candidates\n\n| videos x steps | seconds | modes |\n|---|---|---|")
    for size in args.sizes:
        videos, steps = (int(x) for x in size.split("x"))
        preds, labels, video_of = corpus(videos, steps, args.candidates)
        start = time.perf_counter()
        _, _, modes = fit_stack(preds, labels, video_of, args.mode)
        print(f"| {videos} x {steps} | {time.perf_counter() - start:.1f} | {', '.join(modes)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
