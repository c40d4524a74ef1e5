"""What never reached the scores or the submission untouched: clips stage 00 rejected, clips stage 08 filled.

Stage 09 lists the rejected clips of each scored split in ``unscored.csv`` (``rejected_unscored``)
and both tables in ``report.md`` (``rejects_section``).
"""
from __future__ import annotations

import pandas as pd

from affect.report.markdown import table

STAGE00 = "rejected at stage 00"


def rejected_unscored(rejected: pd.DataFrame, split: str) -> list[dict[str, str]]:
    """Unscored rows (clip, reason) for the clips of ``split`` that stage 00 rejected."""
    rows = rejected[rejected["split"] == split]
    return [{"clip": str(r.clip), "reason": f"{STAGE00}: {r.file}: {r.reason}"} for r in rows.itertuples()]


def rejects_section(rejected: pd.DataFrame, filled: pd.DataFrame) -> str:
    """Markdown: the clips stage 00 rejected (every split) and the clips stage 08 filled in a submission."""
    shown = rejected.assign(split=rejected["split"].replace("", "?"),
                            **{"video frames": rejected["video_frames"].astype("string").fillna("unknown")})
    lines = ["", "## Clips rejected at stage 00", "",
             f"{len(rejected)} clip(s) of the corpus were left out at stage 00 (`rejected.csv` of stage 00); none "
             "of them is scored or predicted:" if len(rejected) else "No clip was left out at stage 00.", ""]
    if len(rejected):
        lines += [table(shown, ["split", "clip", "reason", "file", "video frames"]), ""]
    lines += ["## Filled clips in submissions", ""]
    if filled.empty:
        lines += ["No clip of a submission was filled: every row is a model's prediction.", ""]
    else:
        lines += [f"{filled['clip'].nunique()} clip(s) have no prediction and were filled (`predict.missing`; "
                  "each model's `filled.csv` in stage 08):", "",
                  table(filled, ["model", "split", "clip", "frames", "policy", "valence", "arousal", "reason"]), ""]
    return "\n".join(lines)
