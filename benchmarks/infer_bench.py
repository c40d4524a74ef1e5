"""A model leaves its corpus: exported from one generated corpus, run by `affect infer` on another.

    python -u benchmarks/infer_bench.py [--train-seed 0] [--test-seed 1] [--clips 40] [--seconds 8] \
        [--out features/benchmarks/infer]

`affect synth` writes a training corpus (seed 0; 40 clips x 8 s by default: with the demo's 6 clips
the model does not transfer, see docs/inference.md) and a test corpus (another
seed: other trajectories, faces' placement, voices, noise). Stages 00-09 run on the training
corpus with pipelines/conf/demo.yaml (cached: a second run is quick); `affect export` writes
its fusion model as a bundle; `affect infer` then runs on the test corpus's videos as if they
were anyone's videos (no labels, no manifest; two-person videos once per side with `--side`).
Scored afterwards against the test corpus's labels, which the model never saw: global CCC
over all valid frames of all clips (each clip's label lines and predicted frames cut to the
shorter), and the same for the generator's latent truth (the ceiling, affect.report.reference).
Printed: P_VA, the share of the ceiling (aim >= 0.7), and the CPU time per minute of video
of each stage of `affect infer` (first run: nothing cached for the test videos).
"""
from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from affect.cli import main as affect
from affect.data.labels import read_va_file
from affect.data.sources import split_side
from affect.metrics.ccc import ccc
from affect.report.reference import latent_predictions

CONFIG = Path(__file__).resolve().parents[1] / "pipelines" / "conf" / "demo.yaml"
STAGES = ("prepare", "faces", "visual", "audio", "speech", "align", "predict")


def labelled_clips(corpus: Path) -> dict[str, Path]:
    """Every labelled clip of a generated corpus (any split: the model never saw this corpus)."""
    ann = corpus / "annotations" / "VA_Estimation_Challenge"
    return {p.stem: p for d in ("Train_Set", "Validation_Set") for p in sorted((ann / d).glob("*.txt"))}


def p_va(pred: np.ndarray, label: np.ndarray) -> tuple[float, float, float]:
    ok = np.isfinite(label).all(axis=1) & np.isfinite(pred).all(axis=1)
    v, a = ccc(pred[ok, 0], label[ok, 0]), ccc(pred[ok, 1], label[ok, 1])
    return v, a, (v + a) / 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-seed", type=int, default=0)
    ap.add_argument("--test-seed", type=int, default=1)
    ap.add_argument("--clips", type=int, default=40, help="clips per corpus")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--out", type=Path, default=Path("features/benchmarks/infer"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: steady figures on a shared machine; "
                                                          "0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    train = args.out / f"train-seed{args.train_seed}-{args.clips}x{args.seconds:g}s"
    test = args.out / f"test-seed{args.test_seed}-{args.clips}x{args.seconds:g}s"
    for corpus, seed in ((train, args.train_seed), (test, args.test_seed)):
        if not (corpus / "synth_record.json").is_file():
            if affect(["synth", str(corpus), "--clips", str(args.clips), "--seconds", str(args.seconds),
                       "--seed", str(seed)]):
                return 1
    common = ["-c", str(CONFIG), f"corpus.root={train}", f"corpus.name={train.name}", f"cache_root={args.out / 'cache'}"]
    start = time.perf_counter()
    if affect(["run", "--device", args.device, *common]):
        return 1
    train_s = time.perf_counter() - start
    bundle = args.out / "fusion.bundle.tar"
    if affect(["export", *common, "--out", str(bundle)]):
        return 1

    clips = labelled_clips(test)
    infer_cache = args.out / "infer-cache"
    shutil.rmtree(infer_cache, ignore_errors=True)  # time the first run on these videos
    preds: dict[str, pd.DataFrame] = {}
    summaries = []
    for side in (None, "left", "right"):
        videos = sorted({split_side(c)[0] for c in clips if split_side(c)[1] == side})
        if not videos:
            continue
        out = args.out / "predictions" / (side or "main")
        shutil.rmtree(out, ignore_errors=True)
        paths = [str(next((test / "videos").glob(f"{v}.*"))) for v in videos]
        rc = affect(["infer", str(bundle), *paths, "--out", str(out), "--cache-root", str(infer_cache),
                     "--device", args.device, *(["--side", side] if side else [])])
        if rc not in (0, 1):
            return 1
        summary = pd.read_csv(out / "summary.csv")
        summaries.append(summary)
        for v in videos:
            clip = f"{v}_{side}" if side else v
            if (out / f"{v}.csv").is_file():
                preds[clip] = pd.read_csv(out / f"{v}.csv")

    labels = {c: read_va_file(p) for c, p in clips.items() if c in preds}
    latent = latent_predictions(test, labels)
    cut = {c: min(len(labels[c]), len(preds[c])) for c in labels}
    y = np.concatenate([labels[c][: cut[c]] for c in labels])
    model = np.concatenate([preds[c][["valence", "arousal"]].to_numpy(np.float32)[: cut[c]] for c in labels])
    ceiling = np.concatenate([latent[c][: cut[c]] for c in labels])
    mv, ma, mp = p_va(model, y)
    cv, ca, cp = p_va(ceiling, y)
    frames = int((np.isfinite(y).all(axis=1)).sum())
    summary = pd.concat(summaries, ignore_index=True)
    ok = summary[summary["status"] == "ok"]
    minutes = float(ok["duration_s"].sum()) / 60
    print(f"\ntrained on {train.name} ({train_s:.0f} s for stages 00-09, cached after the first run); "
          f"inferred on {test.name}: {len(labels)} labelled clips, {frames} valid frames, "
          f"{len(summary) - len(ok)} failed video run(s)")
    print("\n| predictions | CCC V | CCC A | P_VA | / ceiling |\n|---|---|---|---|---|")
    print(f"| ceiling (generator's latent) | {cv:.4f} | {ca:.4f} | {cp:.4f} | 1.000 |")
    print(f"| fusion bundle via affect infer | {mv:.4f} | {ma:.4f} | {mp:.4f} | {mp / cp:.3f} |")
    print(f"\ncross-corpus fusion / ceiling {mp / cp:.3f} (aim >= 0.7)")
    print(f"\n`affect infer` time per minute of video on the {args.device.upper()} ({minutes:.2f} min of video, "
          f"{len(ok)} video runs, first run: nothing cached; CPU = this process's CPU seconds, all its threads, "
          f"steadier than wall time on a shared machine)\n\n| stage | wall s / min of video | CPU s / min of video |"
          f"\n|---|---|---|")
    total, total_cpu = 0.0, 0.0
    for stage in STAGES:
        wall = float(ok[f"seconds_{stage}"].sum()) if f"seconds_{stage}" in ok else float("nan")
        cpu = float(ok[f"cpu_{stage}"].sum()) if f"cpu_{stage}" in ok else float("nan")
        total, total_cpu = total + wall, total_cpu + cpu
        print(f"| {stage} | {wall / minutes:.1f} | {cpu / minutes:.1f} |")
    print(f"| total | {total / minutes:.1f} | {total_cpu / minutes:.1f} |")
    print("RESULT " + json.dumps({"bench": "infer", "ratio": mp / cp, "p_va": mp, "ceiling": cp,
                                  "s_per_video_min": total / minutes,
                                  "cpu_s_per_video_min": total_cpu / minutes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
