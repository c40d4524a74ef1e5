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


def score_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per split and model: raw and smoothed figures side by side, best raw P_VA first."""
    key = ["split", "model"]
    raw = results[results["predictions"] == "raw"].set_index(key)
    smoothed = results[results["predictions"] == "smoothed"].set_index(key)
    table = pd.DataFrame({
        "P_VA raw": raw["p_va"], "P_VA smoothed": smoothed["p_va"],
        "CCC V raw": raw["ccc_valence"], "CCC A raw": raw["ccc_arousal"],
        "CCC V smoothed": smoothed["ccc_valence"], "CCC A smoothed": smoothed["ccc_arousal"],
        "clips": raw["clips"], "valid frames": raw["valid_frames"], "unscored": raw["unscored"],
        **protocol_columns(raw),
    }).reset_index()
    order = {s: i for i, s in enumerate(pd.unique(results["split"]))}
    return table.sort_values(["split", "P_VA raw"], key=lambda c: c.map(order) if c.name == "split" else c,
                             ascending=[True, False], na_position="last", kind="stable")


def protocol_columns(raw: pd.DataFrame) -> dict[str, pd.Series]:
    """Where each row's choices were made, whether it was scored on the clips of the other rows, and
    whether any of its clips was predicted in sample (columns of stage 09's results, when present)."""
    out = {}
    if "selected_on" in raw:
        out["selected on"] = raw["selected_on"].fillna("").map(
            lambda s: "validation (optimistic)" if s == "validation" else "inner dev set" if s == "dev" else "")
    if "same_clips" in raw:
        out["same clips"] = raw["same_clips"].map(lambda v: "yes" if v in (True, "True") else "NO: other clips")
    if "in_sample" in raw:
        out["in-sample"] = raw["in_sample"].map(lambda v: "IN-SAMPLE" if v in (True, "True") else "")
    return out


PROTOCOL = (
    "Where choices were made (`selected on`): `inner dev set` = early stopping, the unimodal ranking, fusion's "
    "top-k and the smoothing windows were chosen on an inner development set of training videos, so the "
    "validation split was scored once by models that never saw it; `validation (optimistic)` = they were "
    "chosen on the validation split itself (`train.select=validation`), as most published ABAW figures are, "
    "which makes its figures optimistic. `same clips` = NO: the row was scored on other clips than most rows of "
    "its split (not like with like). `in-sample` rows contain train-split clips predicted by runs that trained on "
    "them.")


def provenance(records: Sequence[StageRecord]) -> str:
    parts = [table(pd.DataFrame([{"stage": f"{r.number:02d} {r.name}", "fingerprint": r.fingerprint[:16] or "(not done)",
                                  "folder": str(r.path)} for r in records]))]
    for r in records:
        parts.append(f"\n**{r.number:02d} {r.name}** (`{r.fingerprint}`)\n\n```yaml\n{r.config_yaml}\n```")
    return "\n".join(parts)


def split_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    """Clips and frames per split of the manifest rows (train, validation, test, then any other)."""
    order = ["train", "validation", "test"]
    rows = []
    for split in sorted(pd.unique(manifest["split"]), key=lambda s: order.index(s) if s in order else 99):
        part = manifest[manifest["split"] == split]
        rows.append({"split": split, "clips": len(part), "frames": int(part["frames"].sum()),
                     "videos": part["video"].nunique() if "video" in part else len(part)})
    return pd.DataFrame(rows)


def context_section(random_backbones: Sequence[str], fused: Sequence[str], counts: pd.DataFrame) -> str:
    """What the numbers rest on: a banner when any backbone had random weights, the fused feature sets,
    and the clips and frames of each split."""
    parts = []
    if random_backbones:
        parts.append(f"> **Random weights.** {', '.join(f'`{b}`' for b in random_backbones)} ran with random "
                     "(not pretrained) weights: the scores of the models built on them say how far the pipeline "
                     "gets without pretrained networks, not what those backbones are worth.")
    parts.append("## Data")
    parts.append(table(counts) if not counts.empty else "(no clips)")
    parts.append("Fused feature sets (stage 07): " + (", ".join(f"`{f}`" for f in fused) if fused else "(unknown)")
                 + ". Fusion and the early/late baselines use these sets; `unimodal/<set>` rows use one set each.")
    return "\n\n".join(parts)


def build_report(
    results: pd.DataFrame,
    smoothing: pd.DataFrame,
    per_clip_best: pd.DataFrame,
    best: str,
    unscored: pd.DataFrame,
    plots: Sequence[Path],
    records: Sequence[StageRecord],
    out_dir: Path,
    context: str = "",
) -> str:
    """The whole report as markdown; image links are relative to ``out_dir``; ``context``: `context_section`."""
    parts = [
        "# Evaluation report",
        *([context] if context else []),
        "CCC as the ABAW challenge computes it: population statistics over all valid frames of a split "
        "concatenated; P_VA = (CCC valence + CCC arousal) / 2. `raw` = the model's frame predictions, "
        "`smoothed` = after the temporal smoothing of stage 08, whose windows are chosen where the model's other "
        "choices were made (test labels are never used): on the inner development set by default; with "
        "selection on validation, each validation video is scored smoothed with the windows chosen on the "
        "*other* validation videos (leave one video out). The windows below are those applied to the test "
        "split and the submission files.",
        "## Scores",
        table(score_table(results), max_rows=1000),
        PROTOCOL,
        "Long format, one row per model, predictions and split: `results.csv`.",
        "## Smoothing windows (seconds; `chosen on` says on which clips)",
        table(smoothing),
        "A window of 0 s means no smoothing: the raw predictions scored best on the clips named in `chosen on`.",
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
