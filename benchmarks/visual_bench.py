"""Stage 02 `visual` benchmark: the extraction loop against a bare forward loop, grid sampling, oneDNN cache.

    python benchmarks/visual_bench.py                       # ~3 min on 2 CPU cores
    python benchmarks/visual_bench.py --only speed --rounds 1 --backbone resnet10t   # quicker

A crop store of `--frames` 224 px face crops (skimage's astronaut, shifted and lit differently
per frame, JPEG q95 as stage 01 writes them) is generated in a temporary folder.

1. Stage vs bare: crops/s of `extract_clip` (read + JPEG decode + preprocess in DataLoader
   workers, forward, masks; every frame) against a bare loop of the same model's forward over
   the same crops already decoded and preprocessed, in batches of the same size. Best of
   `--rounds`, alternating. Aim: ratio >= 0.9 (ResNet-50, random weights, CPU).
2. Grid sampling: wall time of `extract_clip` with every frame against `align.hop` 0.25 s
   (at 30 fps: one frame in 7.5).
3. oneDNN primitive cache: batches through one backbone, then through several in turn (as the
   stage's shared pass does), in fresh subprocesses with `ONEDNN_PRIMITIVE_CACHE_CAPACITY=64`
   (what stage 01's `limit_onednn_cache` sets for its whole process) and with oneDNN's default
   (1024); oneDNN's own verbose log counts primitive creations (cache misses) and their time,
   so the figures do not depend on the machine's load. Aim: the cap costs nothing.

`--device cuda` runs section 1 on the GPU (the backbone's own float16 autocast, for the stage and
the bare loop alike; pinned memory for the loader, as stage 02 does there); section 3 is CPU-only.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.data import astronaut

from affect.backbones.registry import create_backbone
from affect.face.crops import CropReader, CropWriter, encode_jpeg
from affect.visual.extract import extract_clip
from bench_device import pick_device, result, sync

SIZE, FPS = 224, 30.0


def write_store(folder: Path, frames: int) -> None:
    face = np.asarray(Image.fromarray(astronaut()).crop((140, 20, 340, 220)).resize((SIZE + 16, SIZE + 16)))
    rng = np.random.default_rng(0)
    with CropWriter(folder, frames, size=SIZE) as writer:
        for i in range(frames):
            dx, dy = rng.integers(0, 16, 2)
            crop = np.clip(face[dy:dy + SIZE, dx:dx + SIZE] * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8)
            writer.write_jpeg(i, encode_jpeg(crop))


def bare_loop(bb, batches: list[torch.Tensor]) -> float:
    """crops/s of the backbone's forward alone over already-preprocessed batches."""
    sync(getattr(bb, "device", "cpu"))
    start = time.perf_counter()
    for batch in batches:
        bb.forward(batch)
    sync(getattr(bb, "device", "cpu"))
    return sum(len(b) for b in batches) / (time.perf_counter() - start)


def onednn_probe(names: str, batch: int, steps: int) -> None:
    """Subprocess body: `steps` batches through every backbone in turn, as the stage does (one pass, all backbones)."""
    bbs = []
    for name in names.split(","):
        torch.manual_seed(0)
        bbs.append(create_backbone(name, weights="random"))
    crops = np.random.default_rng(0).integers(0, 256, (batch, SIZE, SIZE, 3), dtype=np.uint8)
    inputs = [bb.preprocess(crops) for bb in bbs]
    for bb, x in zip(bbs, inputs):  # warm-up: the first batch creates every primitive whatever the cap
        bb.forward(x)
    ctypes.CDLL(None).fflush(None)  # oneDNN's verbose lines go through C stdio: flush them before the marker
    os.write(1, b"STEADY\n")
    for _ in range(steps):
        for bb, x in zip(bbs, inputs):
            bb.forward(x)


def onednn_run(names: str, batch: int, steps: int, capacity: str | None) -> dict[str, float]:
    """oneDNN's own account (ONEDNN_VERBOSE=2) of primitive creations (cache misses) and execution, per batch."""
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    env["ONEDNN_VERBOSE"] = "2"
    if capacity is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = capacity
    out = subprocess.run([sys.executable, __file__, "--probe", names, str(batch), str(steps)], env=env,
                         capture_output=True, text=True, check=True).stdout
    steady = out[out.index("STEADY\n"):]
    fields = [line.split(",") for line in steady.splitlines() if line.startswith("onednn_verbose")]
    miss = [float(f[-1]) for f in fields if len(f) > 3 and f[3] == "create:cache_miss"]
    run = [float(f[-1]) for f in fields if len(f) > 3 and f[3] == "exec"]
    return {"misses": len(miss) / steps, "create_ms": sum(miss) / steps, "exec_ms": sum(run) / steps}


def speed_rows(args: argparse.Namespace) -> list[tuple[str, str]]:
    torch.manual_seed(0)
    bb = create_backbone(args.backbone, weights="random").to(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "clip"
        write_store(store, args.frames)
        crops = CropReader(store).read(range(args.frames))
        batches = [bb.preprocess(crops[i:i + args.batch]) for i in range(0, args.frames, args.batch)]
        bb.forward(batches[0])  # warm-up
        start = time.perf_counter()
        reader = CropReader(store)
        for i in range(0, args.frames, args.batch):
            bb.preprocess(reader.read(range(i, min(i + args.batch, args.frames))))
        prep_ms = (time.perf_counter() - start) / args.frames * 1000
        bare, stage, grid = [], [], []
        for _ in range(args.rounds):  # alternating; the best of each is kept (the machine may be shared)
            bare.append(bare_loop(bb, batches))
            for hop, times in ((0.0, stage), (0.25, grid)):
                start = time.perf_counter()
                feats = extract_clip(store, frames=args.frames, fps=FPS, hop=hop, backbones=[bb],
                                     batch_size=args.batch, workers=args.workers,
                                     pin_memory=args.device.type == "cuda")
                sync(args.device)
                times.append(time.perf_counter() - start)
    rate = args.frames / min(stage)
    result(stage="visual", device=str(args.device), backbone=args.backbone, batch=args.batch, crops_per_s=rate,
           bare_crops_per_s=max(bare))
    return [("bare forward loop, crops/s (best)", f"{max(bare):.2f}"),
            (f"extract_clip, every frame, workers={args.workers}, crops/s (best)", f"{rate:.2f}"),
            ("ratio stage / bare (aim >= 0.9)", f"{rate / max(bare):.3f}"),
            ("read + decode + preprocess / forward, ms per crop (one process)",
             f"{prep_ms:.2f} / {1000 / max(bare):.1f} ({prep_ms * max(bare) / 1000:.1%})"),
            (f"grid 0.25 s at {FPS:g} fps: rows / frames", f"{feats.summary['rows']} / {args.frames}"),
            ("speed-up of grid sampling over every frame (wall time, best)", f"{min(stage) / min(grid):.2f}x")]


def onednn_rows(args: argparse.Namespace) -> list[tuple[str, str]]:
    rows = []
    for names in (args.backbone, args.onednn_backbones):
        capped, default = (onednn_run(names, 8, 3, cap) for cap in ("64", None))
        rows.append((f"oneDNN, steady state, per batch of 8 through {names}: primitive creations, cap 64 / default",
                     f"{capped['misses']:.0f} / {default['misses']:.0f}"))
        rows.append(("  time creating primitives per batch, cap 64 / default (ms)",
                     f"{capped['create_ms']:.1f} / {default['create_ms']:.1f}"))
        rows.append(("  extra cost of the cap, as a share of the batch's oneDNN execution time",
                     f"{(capped['create_ms'] - default['create_ms']) / default['exec_ms']:.1%}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--onednn-backbones", default="resnet50,senet50-vggface2")
    ap.add_argument("--only", nargs="+", choices=("speed", "onednn"), default=("speed", "onednn"))
    ap.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                    help="device of section 1 (auto: CUDA if there is one)")
    ap.add_argument("--probe", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        return onednn_probe(args.probe[0], int(args.probe[1]), int(args.probe[2]))
    args.device = pick_device(args.device)
    rows = (speed_rows(args) if "speed" in args.only else []) + (onednn_rows(args) if "onednn" in args.only else [])
    print(f"\nvisual_bench: {args.backbone} (random weights) on {args.device}, batch {args.batch}, {args.frames} crops "
          f"of {SIZE} px, CPU threads {torch.get_num_threads()}, loader workers {args.workers}")
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
