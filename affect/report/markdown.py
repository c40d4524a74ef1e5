"""``report.md`` of stage 09: score tables, plots, what could not be scored, provenance."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from affect.report.provenance import StageRecord

MAX_ROWS = 50


def cell(value: object) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4f}"
    return str(value).replace("|", "\\|")


def table(frame: pd.DataFrame, columns: Sequence[str] | None = None, max_rows: int = MAX_ROWS) -> str:
    """A GitHub markdown table of the first ``max_rows`` rows (a note says how many were left out)."""
    columns = list(columns or frame.columns)
    if frame.empty:
        return "(none)"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.head(max_rows).iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in columns) + " |")
    if len(frame) > max_rows:
        lines.append(f"\n({len(frame) - max_rows} more rows in the CSV file)")
    return "\n".join(lines)


def provenance(records: Sequence[StageRecord]) -> str:
    parts = [table(pd.DataFrame([{"stage": f"{r.number:02d} {r.name}", "fingerprint": r.fingerprint[:16] or "(not done)",
                                  "folder": str(r.path)} for r in records]))]
    for r in records:
        parts.append(f"\n**{r.number:02d} {r.name}** (`{r.fingerprint}`)\n\n```yaml\n{r.config_yaml}\n```")
    return "\n".join(parts)


def build_report(
    results: pd.DataFrame,
    smoothing: pd.DataFrame,
    per_clip_best: pd.DataFrame,
    best: str,
    unscored: pd.DataFrame,
    plots: Sequence[Path],
    records: Sequence[StageRecord],
    out_dir: Path,
) -> str:
    """The whole report as markdown; image links are relative to ``out_dir``."""
    score_cols = ["model", "predictions", "split", "p_va", "ccc_valence", "ccc_arousal", "clips", "valid_frames", "unscored"]
    parts = [
        "# Evaluation report",
        "CCC as the ABAW challenge computes it: population statistics over all valid frames of a split "
        "concatenated; P_VA = (CCC valence + CCC arousal) / 2. `raw` = the model's frame predictions, "
        "`smoothed` = after the temporal smoothing of stage 08, whose windows were chosen on the validation "
        "split's labels: smoothed validation figures are therefore optimistic (test labels are never used).",
        "## Scores",
        table(results, score_cols, max_rows=1000),
        "## Smoothing windows (seconds, chosen on validation)",
        table(smoothing),
        f"## Per clip: {best}",
        table(per_clip_best),
        "All models: `per_clip.csv`.",
        "## Not scored",
        "Clips that could not be scored, with the reason (also in `unscored.csv`):",
        table(unscored),
        "## Plots",
        *[f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in plots],
        "## Provenance: the stage folders that produced these numbers",
        provenance(records),
    ]
    return "\n\n".join(parts) + "\n"
