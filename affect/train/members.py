"""Several trainings of one model, scored as one: seeds and cross-validation folds.

A model (``fusion``, ``unimodal/egemaps``...) is one run, or several runs named
``<model>@<member>``: ``@seed<k>`` with N seeds (seed = base seed + k), ``@fold<k>`` with
``train.cv`` (one run per fold of stage 00's folds, trained on the other folds and validated on
fold k), ``@fold<k>-seed<j>`` with both. Its validation score is that of the mean prediction of
the runs that held each clip out: with ``cv`` every labelled clip is predicted by the runs of
the fold that left it out (out of fold), and the global CCC runs over all of them. Stage 08
predicts the same way (a run never predicts a clip it trained on) and averages every fold's
runs on the test split. Its selection score (``selection_scores``: what the unimodal ranking
and fusion's top-k are chosen on) is that of the inner development set with ``train.select=dev``
(each dev clip predicted by the runs whose dev set it is in: with ``train.dev_rotate`` seed k holds
out group k of the training videos, so N seeds choose on N groups; with ``cv`` the dev sets come
from each fold run's training folds), and the validation score itself with ``select=validation``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affect.train.aligned import list_clips, load_clip
from affect.train.config import TrainConfig
from affect.train.data import Split, plan_splits


@dataclass
class Member:
    model: str  # the model this run is a member of
    run: str  # run name, also its folder under the stage's runs/
    seed: int
    split: Split

    @property
    def tag(self) -> str:
        """What the run name adds to the model's: '' or '@fold<k>...'."""
        return self.run[len(self.model):]


def fold_ids(align_dir: Path) -> list[int]:
    """The folds of stage 00 present in stage 05's clips (test clips have none); ValueError under 2."""
    folds = sorted({int(f) for c in list_clips(align_dir)
                    if (f := load_clip(align_dir, c, features=[]).info.get("fold")) is not None})
    if len(folds) < 2:
        raise ValueError(f"train.cv needs at least 2 folds of labelled clips in {align_dir}, found {folds} "
                         "(prepare.folds)")
    return folds


def plan_members(model: str, align_dir: Path, cfg: TrainConfig, seed: int, seeds: int = 1) -> list[Member]:
    """The runs that make up ``model``: one per (fold with ``cfg.cv``) x (seed of ``seeds``)."""
    folds: list[int | None] = list(fold_ids(align_dir)) if cfg.cv else [None]
    out = []
    count = max(1, seeds)
    for fold in folds:
        splits = plan_splits(align_dir, cfg.fold if fold is None else fold, cfg.select, cfg.dev_fraction,
                             fold is not None, list(range(count)) if cfg.dev_rotate else [0] * count)
        for k, split in enumerate(splits):
            tags = ([f"fold{fold}"] if fold is not None else []) + ([f"seed{k}"] if seeds > 1 else [])
            out.append(Member(model, f"{model}@{'-'.join(tags)}" if tags else model, seed + k, split))
    return out


def held_out_predictions(runs_dir: Path, align_dir: Path, members: list[Member], device: str) -> dict[str, np.ndarray]:
    """Each validation clip of the members' splits, predicted by the mean of the runs that held it out
    (stage 08's own rule, affect.report.ensemble.average, on the runs' training clips)."""
    from affect.report.ensemble import average
    from affect.train.runs import predict_grid

    preds = [predict_grid(runs_dir / m.run, align_dir, m.split.validation, device) for m in members]
    out, problems = average(preds, [set(m.split.seen) for m in members])
    if problems:
        raise RuntimeError(f"{members[0].model}: members without predictions: {problems}")
    return out


def score_members(runs_dir: Path, align_dir: Path, members: list[Member], records: dict[str, dict],
                  device: str) -> dict[str, float]:
    """Global CCC V/A and P_VA of the model the members make (one run: its own best-epoch record)."""
    from affect.train.trainer import validate

    if len(members) == 1 and members[0].run in records:
        return records[members[0].run]["val"]
    preds = held_out_predictions(runs_dir, align_dir, members, device)
    return validate(preds, align_dir, sorted(preds))


def selection_scores(runs_dir: Path, align_dir: Path, members: list[Member], records: dict[str, dict],
                     device: str) -> dict[str, float]:
    """Grid CCC V/A and P_VA (with clips and valid steps) on the set the model's choices are made on:
    the members' inner development sets (select=dev), or the validation split (select=validation)."""
    from affect.report.ensemble import selection_average
    from affect.train.runs import predict_grid
    from affect.train.trainer import validate

    if selected_on(members) == "validation":
        return score_members(runs_dir, align_dir, members, records, device)
    if len(members) == 1 and "selection" in records.get(members[0].run, {}):
        return records[members[0].run]["selection"]
    preds = [predict_grid(runs_dir / m.run, align_dir, m.split.dev, device) for m in members]
    out, problems = selection_average(preds, [set(m.split.dev) for m in members])
    if problems:
        raise RuntimeError(f"{members[0].model}: members without predictions on the inner dev set: {problems}")
    return validate(out, align_dir, sorted(out))


def selected_on(members: list[Member]) -> str:
    """"dev" or "validation": where the members' choices were made ("validation" when any member had no
    inner development set to choose on)."""
    return "dev" if all(m.split.dev for m in members) else "validation"
