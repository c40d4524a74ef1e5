"""Speed on the CPU of the backbones that need no download: openSMILE `egemaps` and
`compare` (real-time factor on a synthetic voice), dlib `landmarks68` (template box),
`landmarks68-detect` (dlib's detector box) and `dlib-face128` (crops per second on aligned 224 px
crops of the astronaut).

    python -u benchmarks/cheap_features_bench.py [--seconds 60] [--crops 64]

Prints one table; each figure is the best of `--repeats` runs (model loading excluded, reported apart).
"""
from __future__ import annotations

import argparse
import logging
import time
from typing import Callable

import numpy as np

log = logging.getLogger("cheap_features_bench")


def best_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def voice(seconds: float) -> np.ndarray:
    """A synthetic talking voice with changing arousal and room noise, float32 16 kHz."""
    from affect.synth.voice import Speaker, synth_voice

    rng = np.random.default_rng(0)
    n_cue = int(seconds * 25) + 1
    arousal = np.sin(np.linspace(0, 6, n_cue)) * 0.8
    x = synth_voice(rng, Speaker(), seconds, arousal, -arousal, 25.0)
    x += 0.003 * rng.standard_normal(len(x))
    return x.astype(np.float32)


def aligned_crops(n: int) -> np.ndarray:
    """`n` aligned 224 px crops of the astronaut, each shifted by a pixel or two (not one cached image)."""
    import torch
    from skimage.data import astronaut

    from affect.face.align import Aligner
    from affect.face.config import FacesConfig
    from affect.face.detect import FaceDetector

    torch.set_num_threads(1)
    image = astronaut()
    det = FaceDetector(FacesConfig(), "cpu").detect(image)[0]
    points = det.landmarks[int(np.argmax(det.scores))]
    shifts = np.random.default_rng(0).uniform(-2, 2, (n, 1, 2))
    crops, _ = Aligner(224)([image] * n, points[None] + shifts)
    return crops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="audio length for the openSMILE sets")
    ap.add_argument("--crops", type=int, default=64, help="crops for the dlib backbones")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from affect.backbones.registry import create_backbone

    rows: list[tuple[str, str, str]] = []
    wave = voice(args.seconds)
    for name in ("egemaps", "compare"):
        t0 = time.perf_counter()
        b = create_backbone(name)
        load = time.perf_counter() - t0
        values, _ = b.encode(wave)
        t = best_time(lambda: b.encode(wave), args.repeats)
        rows.append((name, f"{args.seconds:.0f} s of audio -> {values.shape[0]} x {values.shape[1]}",
                     f"{t:.2f} s, real-time factor {t / args.seconds:.4f} ({args.seconds / t:.0f}x real time); "
                     f"setup {load:.2f} s"))
    crops = aligned_crops(args.crops)
    for name in ("landmarks68", "landmarks68-detect", "dlib-face128"):
        t0 = time.perf_counter()
        b = create_backbone(name)
        b.forward(b.preprocess(crops[:1]))  # loads the dlib model files
        load = time.perf_counter() - t0
        t = best_time(lambda: b.forward(b.preprocess(crops)), args.repeats)
        rows.append((name, f"{len(crops)} crops of 224 px -> {b.dim}-D",
                     f"{len(crops) / t:.0f} crops/s ({1000 * t / len(crops):.1f} ms each); setup {load:.2f} s"))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'backbone':<{width}}  {'input':<34}  speed")
    for name, what, speed in rows:
        print(f"{name:<{width}}  {what:<34}  {speed}")


if __name__ == "__main__":
    main()
