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


def write_table(rows: list[dict], path_csv: Path, title: str) -> pd.DataFrame:
    """Rows sorted by P_VA (best first) as CSV and Markdown (same name, .md)."""
    table = pd.DataFrame(rows).sort_values("p_va", ascending=False).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    with atomic.atomic_path(path_csv) as tmp:
        table.to_csv(tmp, index=False)
    shown = table.copy()
    for col in SCORE_COLUMNS:
        shown[col] = shown[col].map(lambda v: f"{v:.4f}")
    header = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns) + "\n"
    body = "".join("| " + " | ".join(str(v) for v in row) + " |\n" for row in shown.itertuples(index=False))
    atomic.write_text(path_csv.with_suffix(".md"), f"# {title}\n\nValidation split, global CCC over all frames.\n\n"
                      + header + body)
    return table
