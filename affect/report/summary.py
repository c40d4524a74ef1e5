"""The score table `affect run` prints when it ends with stage 09: one line per model, best first."""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from affect.report.reference import CEILING

RESULTS = "results.csv"


def _fmt(x: float) -> str:
    return "   -  " if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:6.3f}"


def score_summary(evaluate_dir: Path, split: str) -> str:
    """Global P_VA (raw, smoothed), CCC V/A and the share of the ceiling, for each model on `split`."""
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
    clips = int(raw["clips"].max())
    lines = [f"{split} split, {clips} clip(s): global CCC over all valid frames (ABAW), P_VA = (V + A) / 2",
             f"{'model':<{width}}  P_VA  smoothed  CCC V  CCC A  / ceiling"]
    for model in order:
        r = raw.loc[model]
        share = r["p_va"] / ceiling if ceiling and not math.isnan(ceiling) and model != CEILING else math.nan
        lines.append(f"{model:<{width}} {_fmt(r['p_va'])}  {_fmt(smoothed.get(model, math.nan))}  "
                     f"{_fmt(r['ccc_valence'])} {_fmt(r['ccc_arousal'])}  {_fmt(share)}")
    lines.append(f"report: {evaluate_dir / 'report.md'}")
    return "\n".join(lines) + "\n"
