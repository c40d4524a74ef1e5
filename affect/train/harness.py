"""What stages 06 and 07 share around `fit`: device per process, rank-0 writes, result tables."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from affect.cache import atomic

log = logging.getLogger(__name__)
SCORE_COLUMNS = ["ccc_valence", "ccc_arousal", "p_va"]


def train_device(name: str) -> str:
    """The device of this process: `name` resolved; under torchrun on CUDA, cuda:LOCAL_RANK."""
    from affect.device import resolve_device

    return str(resolve_device(name))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def barrier() -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()


def check_align_errors(align_dir: Path) -> None:
    """ValueError naming the clips stage 05 could not align (mismatched clips/lengths, NaN features...)."""
    errors = Path(align_dir) / "errors.csv"
    if errors.is_file():
        failed = pd.read_csv(errors)["clip"].astype(str).tolist()
        raise ValueError(f"stage 05 `align` failed for clip(s) {', '.join(failed[:20])} (reasons in {errors}); "
                         "fix the inputs (or leave the clips out of the corpus) and rerun align before training")


def score_column(name: str) -> bool:
    """A CCC / P_VA column (also ``val_*`` and ``dev_*`` copies), shown with 4 decimals."""
    return name.split("_", 1)[-1] in SCORE_COLUMNS or name in SCORE_COLUMNS


def table_note(selected_on: str, cv: bool) -> str:
    """What the figures of a stage-06/07 table are: the set, the metric, where choices were made."""
    where = ("the inner development set (training videos held out of fitting)" if selected_on == "dev"
             else "the validation split (selected on validation: its figures are optimistic)")
    oof = " With cv, every figure is out of fold." if cv else ""
    return (f"Grid CCC (the challenge's global CCC on labels averaged onto the stage-05 grid). Choices (early "
            f"stopping, ranking, top-k) made on {where}; `val_*` / the validation figures come from models "
            f"that never trained on those clips.{oof} `clips` / `valid_steps`: what each figure was measured on; "
            "rows measured on different clips are marked in `same_clips`.")


def mark_clip_sets(rows: list[dict], column: str = "clips") -> None:
    """``same_clips``: whether each row was measured on as many clips and valid steps as the first row
    (a different count means a different clip set: not like with like)."""
    if not rows:
        return
    steps = column.replace("clips", "valid_steps")
    ref = (rows[0].get(column), rows[0].get(steps))
    for row in rows:
        row["same_clips"] = (row.get(column), row.get(steps)) == ref


def write_table(rows: list[dict], path_csv: Path, title: str, note: str = "") -> pd.DataFrame:
    """Rows sorted by P_VA (best first) as CSV and Markdown (same name, .md)."""
    table = pd.DataFrame(rows).sort_values("p_va", ascending=False).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    with atomic.atomic_path(path_csv) as tmp:
        table.to_csv(tmp, index=False)
    shown = table.copy()
    for col in [c for c in shown.columns if score_column(c)]:
        shown[col] = shown[col].map(lambda v: f"{v:.4f}")
    header = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in shown.itertuples(index=False))
    atomic.write_text(path_csv.with_suffix(".md"), f"# {title}\n\n{note or 'Grid CCC (global CCC over all steps).'}\n\n"
                      + header + body)
    return table
