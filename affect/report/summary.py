"""The score table `affect run` prints when it ends with stage 09: one line per model, best first."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from affect.report.reference import CEILING

RESULTS = "results.csv"


def _fmt(x: float) -> str:
    return "   -  " if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:6.3f}"


def notes(row: pd.Series) -> str:
    """What a reader must know before comparing a row: where its choices were made, which clips."""
    out = []
    if str(row.get("selected_on", "")) == "validation":
        out.append("selected on validation")
    if row.get("same_clips", True) is False or str(row.get("same_clips", "True")) == "False":
        out.append("other clips")
    if str(row.get("in_sample", "False")) == "True":
        out.append("in-sample")
    return ", ".join(out)


def score_summary(evaluate_dir: Path, split: str) -> str:
    """Global P_VA (raw, smoothed), CCC V/A, the share of the ceiling, the clips and valid frames scored, and
    notes (selected on validation, other clips, in-sample), for each model on `split`."""
    results = pd.read_csv(evaluate_dir / RESULTS)
    rows = results[results["split"] == split]
    if rows.empty:
        return f"no scores for split {split!r} in {evaluate_dir / RESULTS}\n"
    raw = rows[rows["predictions"] == "raw"].set_index("model")
    smoothed = rows[rows["predictions"] == "smoothed"].set_index("model")["p_va"]
    ceiling = float(raw.loc[CEILING, "p_va"]) if CEILING in raw.index else math.nan
    order = [CEILING] if CEILING in raw.index else []
    order += [m for m in raw.drop(index=CEILING, errors="ignore").sort_values("p_va", ascending=False).index]
    width = max(len(m) for m in order)
    lines = [f"{split} split: global CCC over all valid frames (ABAW), P_VA = (V + A) / 2; "
             "clips / frames: what each row was scored on",
             f"{'model':<{width}}  P_VA  smoothed  CCC V  CCC A  / ceiling  clips  frames  notes"]
    for model in order:
        r = raw.loc[model]
        share = r["p_va"] / ceiling if ceiling and not math.isnan(ceiling) and model != CEILING else math.nan
        frames = r.get("valid_frames", math.nan)
        lines.append(f"{model:<{width}} {_fmt(r['p_va'])}  {_fmt(smoothed.get(model, math.nan))}  "
                     f"{_fmt(r['ccc_valence'])} {_fmt(r['ccc_arousal'])}  {_fmt(share)}  {int(r['clips']):5d}  "
                     f"{'-' if pd.isna(frames) else int(frames):>6}  {notes(r)}".rstrip())
    if CEILING in raw.index:
        lines.append("ceiling: the generator's noise-free latent scored like a model, a reference (not a strict bound)")
    lines.append(f"report: {evaluate_dir / 'report.md'}")
    return "\n".join(lines) + "\n"
