"""Which model's submission file to upload, and where it is.

The rule: the model with the highest P_VA on the validation split (stage 09's `results.csv`; the
first of `evaluate.splits` when validation is not scored), read on the *smoothed* predictions
when stage 09 scored them, since those are what the submission files hold (stage 08 applies the
windows chosen on validation; stage 09 scores validation with held-out windows). The ceiling
row of a synthetic corpus is not a model. Ties: the order of `results.csv`.

The chosen file is copied to `<cache_root>/<corpus>/latest/submission.csv` with
`selected.json` (model, figure, rule, source) beside it, so that it is found without knowing
the hash-named folders. When there is nothing to upload, `Selection.reason` says why.
"""
from __future__ import annotations

import filecmp
import json
import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from affect.cache import atomic
from affect.report.reference import CEILING
from affect.report.store import read_models

RULE = ("the highest P_VA on the validation split (stage 09's results.csv), on the smoothed predictions that "
        "the submission files hold; the ceiling row is not a model")
LATEST = "latest"
SUBMISSION = "submission.csv"
SELECTED = "selected.json"


@dataclass
class Selection:
    model: str = ""
    split: str = ""
    predictions: str = ""
    p_va: float = math.nan
    source: str = ""  # the model's submission_test.csv in stage 08's folder
    path: str = ""  # the copy to upload (latest/submission.csv)
    rule: str = RULE
    reason: str = ""  # why there is no file to upload ("" when there is one)

    def line(self) -> str:
        if self.reason:
            return f"no submission file to upload: {self.reason}"
        return (f"submission to upload: {self.path or self.source} (model {self.model}: P_VA {self.p_va:.3f} on "
                f"{self.split}, {self.predictions} predictions, the best of stage 09's models on that split, so this figure is "
                f"optimistic: selected on {self.split}; a copy of {self.source})")


def best_model(results: pd.DataFrame) -> tuple[str, str, str, float] | None:
    """(model, split, predictions, p_va) by the rule above; None when no model has a score."""
    rows = results[(results["model"] != CEILING) & results["p_va"].notna()]
    if rows.empty:
        return None
    split = "validation" if (rows["split"] == "validation").any() else str(rows["split"].iloc[0])
    rows = rows[rows["split"] == split]
    variant = "smoothed" if (rows["predictions"] == "smoothed").any() else "raw"
    rows = rows[rows["predictions"] == variant]
    best = rows.loc[rows["p_va"].idxmax()] if len(rows) else None
    return None if best is None else (str(best["model"]), split, variant, float(best["p_va"]))


def choose(predict_dir: Path, evaluate_dir: Path | None, test_clips: int, missing_list: str = "",
           rejected_test: list[str] | tuple[str, ...] = ()) -> Selection:
    """The submission file to upload for stage 08's `predict_dir`, chosen on stage 09's `evaluate_dir`
    (None: stage 09 has not scored these predictions); `test_clips`: how many test clips the manifest has;
    `missing_list`: the configured test list when it is not a file; `rejected_test`: test clips stage 00 left out."""
    if test_clips == 0:
        if rejected_test:
            why = (f"stage 00 rejected every test clip ({', '.join(rejected_test[:5])}"
                   f"{' ...' if len(rejected_test) > 5 else ''}; reasons in its rejected.csv)")
        else:
            why = f"no test list ({missing_list} not found)" if missing_list else "the test list names no clip"
        return Selection(reason=f"the corpus has no test clips: {why} (corpus.test_list), so no test split was "
                                "predicted")
    if evaluate_dir is None or not (evaluate_dir / "results.csv").is_file():
        return Selection(reason=f"stage 09 (evaluate) has not scored these predictions, so no model is chosen yet: "
                                f"run `affect evaluate` with the same config; every model's file is "
                                f"{predict_dir}/models/<model>/submission_test.csv")
    picked = best_model(pd.read_csv(evaluate_dir / "results.csv"))
    if picked is None:
        return Selection(reason=f"no model has a score in {evaluate_dir / 'results.csv'}")
    model, split, variant, p_va = picked
    folder = read_models(predict_dir).get(model)
    source = folder / "submission_test.csv" if folder is not None else None
    if source is None or not source.is_file():
        return Selection(model, split, variant, p_va, reason=f"model {model} has no submission_test.csv in "
                                                             f"{predict_dir} (is test in predict.splits?)")
    return Selection(model, split, variant, p_va, str(source))


def publish(selection: Selection, corpus_dir: Path) -> Selection:
    """Copy the chosen file to `<corpus_dir>/latest/submission.csv` (atomically) with `selected.json`."""
    if selection.reason:
        return selection
    latest = corpus_dir / LATEST
    target = latest / SUBMISSION
    selection.path = str(target)
    record = asdict(selection)
    if read_selected(corpus_dir) == record and target.is_file() and filecmp.cmp(target, selection.source,
                                                                                shallow=False):
        return selection  # already there: a rerun rewrites nothing
    latest.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(target) as tmp:
        shutil.copyfile(selection.source, tmp)
    atomic.write_json(latest / SELECTED, record)
    return selection


def read_selected(corpus_dir: Path) -> dict | None:
    path = corpus_dir / LATEST / SELECTED
    return json.loads(path.read_text()) if path.is_file() else None
