"""Stages 05-07 on a generated corpus: ceiling, unimodal, baselines, fusion, audio front ends, throughput.

    python -u benchmarks/train_bench.py [--clips 24] [--seconds 60] [--seed 0] [--epochs 30]

The corpus is the synthetic generator's (affect.synth: same plan, latent trajectories, annotator
noise, -5 stretches, no-face stretches, a video without audio, the same cue series), without
rendering pixels or audio: random-weight backbones cannot be run here at corpus scale in
minutes, so each feature set is a fixed random mix of the generator's own cues + white noise
(affect.train.synthetic_features: face-synth = face cues, voice-synth = voice cues at 50 Hz,
noise-synth = noise). From there everything is the library: stage 05's gridding and storage,
the training harness, the models, the runs API. The ceiling is the generator's: CCC(latent,
labels) on the validation clips (and on all labelled clips, as in synth_record.json).

`--overhead` times what stages 06 and 07 spend on a tiny corpus (default 6 clips x 6 s) with the
Aff-Wild2 config's training settings (window 64, stride 32, batch 32, 4 loader workers, hidden
256, 30 epochs; 3 unimodal sets, then fusion and the early baseline with 3 seeds each): there
is almost nothing to compute, so the time is the harness's overhead (loader processes, per-epoch
validation). Run it with another checkout first on PYTHONPATH to time that version the same way.

`--device cuda` trains on the GPU (float16 autocast, `train.amp`, as the trainer does there); `--throughput-only`
skips the quality tables and trains only the fusion model for 2 epochs at the 0.25 s grid and at
the frame-rate grid, printing windows/s (on CUDA in float32 and under float16 autocast).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from affect.metrics import ccc, p_va
from affect.synth.corpus import _series  # the generator's own per-clip series (latent, labels, cues)
from affect.synth.plan import plan_corpus
from affect.train.aligned import FEATURES_JSON, write_clip
from affect.train.config import TrainConfig
from affect.train.gridding import align_labels, align_series, clip_grid, empty_feature, substeps_for
from affect.train.synthetic_features import DIM, SETS, cue_features

log = logging.getLogger("train_bench")


def build_align(out: Path, clips: int, seconds: float, seed: int, hop: float) -> dict:
    """Stage 05's folder for the generated corpus at ``hop``; returns the ceilings."""
    pairs: dict[str, list] = {"train": [], "validation": []}
    info_sets = {}
    for vp in plan_corpus(clips, seconds, seed):
        rng = np.random.default_rng([seed, 1, vp.index])
        shape_rng = np.random.default_rng([seed, 2, vp.index])  # as affect.synth.corpus: its own stream
        for cp in vp.clips:
            data = _series(vp, cp, rng, shape_rng)
            if data.labels is None:
                continue  # test clips: no labels, nothing to score
            fps = float(vp.fps)
            frames = len(data.labels)
            m = min(frames, len(data.latent))
            ok = ~np.isnan(data.labels[:m]).any(axis=1)
            pairs[cp.split].append((data.latent[:m][ok], data.labels[:m][ok]))
            grid, steps = clip_grid(hop, fps, frames)
            no_face = np.zeros(vp.frames, bool)
            if cp.no_face:
                no_face[int(cp.no_face[1] * fps): int(np.ceil(cp.no_face[2] * fps))] = True
            feats = {}
            frng = np.random.default_rng([seed, 2, zlib.crc32(cp.clip.encode())])
            for name, (modality, _) in SETS.items():
                k = substeps_for(50.0, grid) if modality == "speech" else 0
                info_sets[name] = {"modality": modality, "dim": DIM, "substeps": k, "source": "synthetic"}
                if modality == "speech" and not vp.has_audio:
                    feats[name] = empty_feature(steps, DIM, k)
                    continue
                series = cue_features(data.cues, fps, name, frng, no_face, seed)
                feats[name] = align_series(series, grid, steps, k)
            d = out / "clips" / cp.clip
            d.mkdir(parents=True)
            write_clip(d, {"clip": cp.clip, "hop": grid.hop, "steps": steps, "fps": fps, "frames": frames,
                           "video": vp.video, "split": cp.split, "fold": None, "has_audio": vp.has_audio},
                       align_labels(data.labels, fps, grid, steps), feats)
    (out / FEATURES_JSON).write_text(json.dumps(info_sets))

    def ceiling(parts):
        lat = np.concatenate([p[0] for p in parts])
        lab = np.concatenate([p[1] for p in parts])
        return p_va(ccc(lat[:, 0], lab[:, 0]), ccc(lat[:, 1], lab[:, 1]))

    return {"validation": ceiling(pairs["validation"]), "all": ceiling(pairs["train"] + pairs["validation"]),
            "clips": {s: len(p) for s, p in pairs.items()}}


DEVICE = "cpu"  # main() sets it from --device


def train(runs: Path, align: Path, name: str, kind: str, features: list[str], cfg: TrainConfig, seed: int,
          **extra) -> dict:
    from affect.train.trainer import fit, model_spec

    start = time.perf_counter()
    record = fit(runs / name, align, model_spec(kind, features, align, cfg, **extra), cfg, seed, device=DEVICE,
                 name=name)
    record["seconds"] = time.perf_counter() - start
    log.info("%-22s P_VA %.4f (V %.4f, A %.4f), best epoch %d, %.0f s", name, record["val"]["p_va"],
             record["val"]["ccc_valence"], record["val"]["ccc_arousal"], record["best_epoch"], record["seconds"])
    return record


def late(runs: Path, align: Path, members: list[str], val: list[str]) -> dict:
    from affect.train.runs import predict_grid
    from affect.train.trainer import validate

    parts = [predict_grid(runs / m, align, val) for m in members]
    return validate({c: np.mean([p[c] for p in parts], axis=0) for c in val}, align, val)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--windows", default="32,64,128", help="window lengths W (steps) compared for the fusion model")
    ap.add_argument("--memory", default="24,96", help="clip counts whose training peak RSS is compared ('' = skip)")
    ap.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                    help="training device (auto: CUDA if there is one)")
    ap.add_argument("--throughput-only", action="store_true", help="fusion windows/s only (2 epochs per grid)")
    ap.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--overhead", action="store_true", help="time stages 06+07's training on a tiny corpus "
                    "(use --clips 6 --seconds 6)")
    ap.add_argument("--seeds", type=int, default=3, help="--overhead: seeds of fusion and the early baseline")
    args = ap.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.seconds, args.seed)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("affect").setLevel(logging.WARNING)
    import torch

    from bench_device import pick_device

    global DEVICE
    DEVICE = str(pick_device(args.device))
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    if args.throughput_only:
        return throughput(args)
    if args.overhead:
        return overhead(args)
    tmp = Path(tempfile.mkdtemp(prefix="train_bench_"))
    t0 = time.perf_counter()
    try:
        align = tmp / "align"
        ceil = build_align(align, args.clips, args.seconds, args.seed, 0.25)
        log.info("corpus: %s labelled clips; ceiling P_VA validation %.4f, all %.4f (%.0f s)", ceil["clips"],
                 ceil["validation"], ceil["all"], time.perf_counter() - t0)
        cfg = TrainConfig(epochs=args.epochs)
        runs, rows = tmp / "runs", []
        uni = {f: train(runs, align, f"unimodal/{f}", "temporal", [f], cfg, args.seed, model="gru") for f in SETS}
        ranked = sorted(uni, key=lambda f: -uni[f]["selection"]["p_va"])  # on the inner dev set, as stage 06 ranks
        top = ranked[:2]
        rows += [(f"unimodal/{f} (gru)", uni[f]["val"]) for f in ranked]
        for kind in ("tcn", "transformer"):  # the other temporal models, on the best feature set
            r = train(runs, align, f"unimodal-{kind}/{ranked[0]}", "temporal", [ranked[0]], cfg, args.seed, model=kind)
            rows.append((f"unimodal/{ranked[0]} ({kind})", r["val"]))
        early = train(runs, align, "baseline/early", "temporal", top, cfg, args.seed, model="gru")
        val = early["validation_clips"]
        rows.append(("baseline/late (mean of unimodal)", late(runs, align, [f"unimodal/{f}" for f in top], val)))
        rows.append(("baseline/early (concat + GRU)", early["val"]))
        fusion = train(runs, align, "fusion", "fusion", top, cfg, args.seed, heads=4, modality_dropout=0.2)
        rows.append(("fusion (cross-modal attention)", fusion["val"]))
        conv = train(runs, align, "fusion-conv", "fusion", top, replace(cfg, audio_frontend="conv"), args.seed,
                     heads=4, modality_dropout=0.2)
        rows.append(("fusion, audio by learned strided conv", conv["val"]))
        windows = []
        for w in [int(x) for x in args.windows.split(",") if int(x) != cfg.window]:
            r = train(runs, align, f"fusion-w{w}", "fusion", top, replace(cfg, window=w, stride=w // 2), args.seed,
                      heads=4, modality_dropout=0.2)
            windows.append((w, r))
        windows.append((cfg.window, fusion))
        # throughput at the frame-rate grid: same 16 s windows (W = 16 s x fps), 2 epochs
        align_fps = tmp / "align_fps"
        build_align(align_fps, args.clips, args.seconds, args.seed, 0)
        w_fps = 16 * 30
        fps_run = train(runs, align_fps, "fusion-fps", "fusion", top,
                        replace(cfg, window=w_fps, stride=w_fps // 2, epochs=2, patience=99), args.seed, heads=4,
                        modality_dropout=0.2)
        print_tables(ceil, rows, uni, fusion, conv, windows, fps_run, top, w_fps, time.perf_counter() - t0, args)
        if args.memory:
            print_memory([int(n) for n in args.memory.split(",")], args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def overhead(args) -> None:
    """Seconds of stages 06 (one GRU per set) + 07 (fusion and early baseline, ``--seeds`` each) on a tiny corpus."""
    import affect.train.trainer as trainer

    cfg = TrainConfig(window=64, stride=32, batch_size=32, epochs=30, lr=1e-3, hidden=256, layers=2, dropout=0.3,
                      workers=4)
    tmp = Path(tempfile.mkdtemp(prefix="train_bench_"))
    rows = []
    try:
        align = tmp / "align"
        ceil = build_align(align, args.clips, args.seconds, args.seed, 0.25)
        jobs = [(f"unimodal/{f}", "temporal", [f], 0, {"model": "gru"}) for f in SETS]
        top = ["face-synth", "voice-synth"]
        jobs += [(f"fusion@seed{k}", "fusion", top, k, {"heads": 4, "modality_dropout": 0.2}) for k in range(args.seeds)]
        jobs += [(f"early@seed{k}", "temporal", top, k, {"model": "gru"}) for k in range(args.seeds)]
        for name, kind, feats, seed, extra in jobs:
            r = train(tmp / "runs", align, name, kind, feats, cfg, args.seed + seed, **extra)
            rows.append((name, r["seconds"], r["epochs_run"], sum(h["seconds"] for h in r["history"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    uni = sum(s for n, s, _, _ in rows if n.startswith("unimodal/"))
    fus = sum(s for n, s, _, _ in rows if not n.startswith("unimodal/"))
    out = [f"\nStages 06+07 training on {args.clips} clips x {args.seconds:g} s ({ceil['clips']['train']} train / "
           f"{ceil['clips']['validation']} validation clips), W=64 S=32 batch 32, 4 workers asked, hidden 256, "
           f"{os.cpu_count()} cores, {trainer.__file__}",
           "", "| run | seconds | epochs | s/epoch (training loop) |", "|---|---|---|---|"]
    out += [f"| {n} | {s:.1f} | {e} | {t / max(e, 1):.2f} |" for n, s, e, t in rows]
    out.append(f"\nstage 06 ({len(SETS)} sets) {uni:.0f} s, stage 07 (fusion + early, {args.seeds} seeds each) {fus:.0f} s")
    print("\n".join(out), flush=True)


def throughput(args) -> None:
    """Fusion training windows/s at the 0.25 s grid (W=64) and at the frame-rate grid (16 s windows), 2 epochs each.

    On CUDA both in float32 (`train.amp=false`) and under the trainer's float16 autocast (its default)."""
    from bench_device import result

    tmp = Path(tempfile.mkdtemp(prefix="train_bench_"))
    top = ["face-synth", "voice-synth"]
    precisions = (False, True) if DEVICE.startswith("cuda") else (False,)
    w_fps = 16 * 30
    rates: dict[bool, tuple[float, float]] = {}
    try:
        build_align(tmp / "align", args.clips, args.seconds, args.seed, 0.25)
        build_align(tmp / "align_fps", args.clips, args.seconds, args.seed, 0)
        for amp in precisions:
            cfg = TrainConfig(epochs=2, patience=99, amp=amp)
            grid = train(tmp / "runs", tmp / "align", f"fusion-{amp}", "fusion", top, cfg, args.seed, heads=4,
                         modality_dropout=0.2)
            fps_run = train(tmp / "runs", tmp / "align_fps", f"fusion-fps-{amp}", "fusion", top,
                            replace(cfg, window=w_fps, stride=w_fps // 2), args.seed, heads=4, modality_dropout=0.2)
            rates[amp] = (grid["windows_per_s"], fps_run["windows_per_s"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    names = {False: "float32", True: "float16 autocast (train.amp, the CUDA default)"}
    print(f"\n| training throughput on {DEVICE} (fusion, 16 s windows, 2 epochs) | precision | windows/s 0.25 s grid "
          f"(64 steps) | windows/s frame-rate grid ({w_fps} steps) |\n|---|---|---|---|", flush=True)
    for amp, (g, f) in rates.items():
        print(f"| | {names[amp]} | {g:.0f} | {f:.0f} |", flush=True)
    best = rates[max(rates)]
    result(stage="train", device=DEVICE, windows_per_s=best[0], frame_rate_windows_per_s=best[1],
           float32_windows_per_s=rates[False][0], float32_frame_rate_windows_per_s=rates[False][1])


def print_tables(ceil, rows, uni, fusion, conv, windows, fps_run, top, w_fps, seconds, args) -> None:
    best_uni = max(r["val"]["p_va"] for r in uni.values())
    out = [f"\nGenerated corpus: {args.clips} clips x {args.seconds:g} s, seed {args.seed} "
           f"({ceil['clips']['train']} train / {ceil['clips']['validation']} validation labelled clips), "
           f"grid 0.25 s, W=64 S=32, {args.epochs} epochs max, early stopping on validation P_VA.",
           "", "| model | CCC V | CCC A | P_VA | / ceiling |", "|---|---|---|---|---|",
           f"| ceiling: CCC(latent, labels), validation clips | | | {ceil['validation']:.4f} | 1.000 |",
           f"| ceiling, all labelled clips (synth_record.json's) | | | {ceil['all']:.4f} | |"]
    for name, v in rows:
        out.append(f"| {name} | {v['ccc_valence']:.4f} | {v['ccc_arousal']:.4f} | {v['p_va']:.4f} | "
                   f"{v['p_va'] / ceil['validation']:.3f} |")
    f = fusion["val"]["p_va"]
    out.append(f"\nfusion ({'+'.join(top)}) vs best unimodal: {f - best_uni:+.4f}; fusion / ceiling: "
               f"{f / ceil['validation']:.3f} (aim >= 0.85)")
    out += ["", "| fusion window W (S = W/2) | P_VA | best epoch | windows/s (train) | s |", "|---|---|---|---|---|"]
    for w, r in sorted(windows, key=lambda x: x[0]):
        out.append(f"| {w} ({w * 0.25:g} s) | {r['val']['p_va']:.4f} | {r['best_epoch']} | {r['windows_per_s']:.0f} | "
                   f"{r['seconds']:.0f} |")
    out += ["", "| training throughput (fusion, 16 s windows) | grid steps per window | windows/s |", "|---|---|---|",
            f"| 0.25 s grid | 64 | {fusion['windows_per_s']:.0f} |",
            f"| frame-rate grid (15-30 fps clips) | {w_fps} | {fps_run['windows_per_s']:.0f} |",
            f"\naudio front end: interpolation/pooling P_VA {fusion['val']['p_va']:.4f}, learned strided conv over "
            f"50 Hz sub-steps {conv['val']['p_va']:.4f}", f"total {seconds:.0f} s"]
    print("\n".join(out), flush=True)


def memory_child(clips: int, seconds: float, seed: int) -> None:
    """In a fresh process: stage 05's folder for ``clips`` clips, 2 epochs of fusion; print peak RSS (MB)."""
    def peak_mb() -> float:  # VmHWM: this process image's peak (ru_maxrss would include the parent's at fork)
        text = Path("/proc/self/status").read_text()
        return int(next(line for line in text.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024

    tmp = Path(tempfile.mkdtemp(prefix="train_bench_mem_"))
    try:
        build_align(tmp / "align", clips, seconds, seed, 0.25)
        before = peak_mb()
        cfg = TrainConfig(epochs=2, patience=99)
        train(tmp / "runs", tmp / "align", "fusion", "fusion", ["face-synth", "voice-synth"], cfg, seed, heads=4)
        print(json.dumps({"clips": clips, "rss_mb": peak_mb(),
                          "rss_before_training_mb": before,
                          "align_mb": sum(p.stat().st_size for p in (tmp / "align").rglob("*")) / 2**20}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def print_memory(counts: list[int], args) -> None:
    import subprocess
    import sys

    rows = []
    for n in counts:
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(n), "--seconds", str(args.seconds),
                              "--seed", str(args.seed)], capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    lines = ["", "| training memory (fusion, 2 epochs, fresh process) | stage-05 folder | peak RSS |", "|---|---|---|"]
    lines += [f"| {r['clips']} clips x {args.seconds:g} s | {r['align_mb']:.1f} MB | {r['rss_mb']:.0f} MB |" for r in rows]
    lines.append(f"peak RSS ratio {rows[-1]['rss_mb'] / rows[0]['rss_mb']:.2f} for {counts[-1] / counts[0]:g}x the corpus")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
