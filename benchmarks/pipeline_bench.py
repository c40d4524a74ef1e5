"""Stages 00-09 on a generated corpus with random-weight backbones: fusion against the ceiling.

    python -u benchmarks/pipeline_bench.py [--clips 32] [--seconds 20] [--seed 1] [--out features/benchmarks/pipeline]

train_bench.py trains on the generator's cues mixed into features; this one starts from pixels
and waveforms: `affect synth` writes the corpus (videos with audio, labels, the latent truth),
then `affect run` with pipelines/conf/demo.yaml (tiny random-weight ResNet/SE-ResNet/CLIP
backbones, tiny random WavLM/Whisper, real eGeMAPS and dlib landmarks) and the overrides below
runs every stage (as in the demo: fusion and the early baseline are 3-seed ensembles). Stage 07 is then rerun with the audio read by the learned strided convolution
(`fusion.train.audio_frontend=conv`; stages 00-06 come from the cache). Printed: the ceiling
(the generator's latent scored against the labels), each unimodal model, both baselines, the
fusion with each audio front end, their share of the ceiling, and training windows/s.
Validation split, global CCC, raw predictions (no smoothing). A second run reuses the cache.
"""
from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # per-batch bars would bury the table in the log

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import pandas as pd

from affect.cli import main as affect
from affect.config import load_config
from affect.report.reference import CEILING
from affect.stages import get_stage
from affect.train.runs import list_runs

CONFIG = Path(__file__).resolve().parents[1] / "pipelines" / "conf" / "demo.yaml"


def scores(evaluate_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(evaluate_dir / "results.csv")
    return table[(table["split"] == "validation") & (table["predictions"] == "raw")].set_index("model")


def windows_per_s(fusion_dir: Path, model: str) -> float:
    runs = [p for name, p in list_runs(fusion_dir).items() if name.split("@")[0] == model]
    rates = [json.loads((p / "run.json").read_text()).get("windows_per_s") for p in runs]
    return float(sum(rates) / len(rates)) if rates else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1, help="the corpus's seed")
    ap.add_argument("--out", type=Path, default=Path("features/benchmarks/pipeline"))
    ap.add_argument("overrides", nargs="*", help="more key=value config overrides")
    args = ap.parse_args()
    corpus = args.out / f"corpus-{args.clips}x{args.seconds:g}s-seed{args.seed}"
    common = ["-c", str(CONFIG), f"corpus.root={corpus}", f"corpus.name={corpus.name}",
              f"cache_root={args.out / 'cache'}", *args.overrides]
    start = time.perf_counter()
    if not (corpus / "synth_record.json").is_file():
        if affect(["synth", str(corpus), "--clips", str(args.clips), "--seconds", str(args.seconds),
                   "--seed", str(args.seed)]):
            return 1
    synth_s = time.perf_counter() - start
    variants = {"interp": [], "conv": ["fusion.train.audio_frontend=conv"]}
    stage_dirs = {}
    for name, extra in variants.items():
        if affect(["run", *common, *extra] if name == "interp" else ["run", "--stage", "fusion", *common, *extra]):
            return 1
        cfg = load_config([str(CONFIG)], common[2:] + extra)
        stage_dirs[name] = {s: get_stage(s)(cfg).output.path for s in ("fusion", "evaluate")}
    logging.getLogger().setLevel(logging.WARNING)
    interp, conv = (scores(stage_dirs[v]["evaluate"]) for v in variants)
    ceiling = float(interp.loc[CEILING, "p_va"])
    rows = [(CEILING, interp.loc[CEILING])]
    rows += [(m, interp.loc[m]) for m in interp.drop(index=CEILING).sort_values("p_va", ascending=False).index]
    rows += [(f"{m}, audio by learned strided conv", conv.loc[m]) for m in ("fusion", "baseline/early")]
    clips, frames = int(interp.loc["fusion", "clips"]), int(interp.loc["fusion", "valid_frames"])
    print(f"\n{args.clips} clips x {args.seconds:g} s (seed {args.seed}), validation split: {clips} clips, "
          f"{frames} valid steps; raw predictions, global CCC; {time.perf_counter() - start:.0f} s "
          f"(synth {synth_s:.0f} s; 0 when cached)")
    print("\n| model | CCC V | CCC A | P_VA | / ceiling |\n|---|---|---|---|---|")
    for model, r in rows:
        share = "1.000" if model == CEILING else f"{r['p_va'] / ceiling:.3f}"
        print(f"| {model} | {r['ccc_valence']:.4f} | {r['ccc_arousal']:.4f} | {r['p_va']:.4f} | {share} |")
    best_single = max(r["p_va"] for m, r in rows if m.startswith("unimodal/"))
    fusion = float(interp.loc["fusion", "p_va"])
    print(f"\nfusion / ceiling {fusion / ceiling:.3f} (aim >= 0.85); fusion - best single {fusion - best_single:+.4f}, "
          f"- early {fusion - float(interp.loc['baseline/early', 'p_va']):+.4f}, "
          f"- late {fusion - float(interp.loc['baseline/late', 'p_va']):+.4f}")
    for name in variants:
        print(f"training windows/s ({name} audio, CPU, median over epochs, mean over seeds): fusion "
              f"{windows_per_s(stage_dirs[name]['fusion'], 'fusion'):.0f}, early "
              f"{windows_per_s(stage_dirs[name]['fusion'], 'baseline/early'):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
