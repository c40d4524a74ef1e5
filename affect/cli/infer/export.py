"""`affect export`: one model of a finished training config as a bundle (affect.bundle.format).

The model's members are the runs stage 08 averaged for it (its `info.json`), its smoothing the
windows stage 08 chose (`smoothing.json`); the feature sets are those the members read, each
recorded with what produced it (stage 05's `features.json`, stage 02/04's `backbones.json`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from affect.config import Config, to_yaml
from affect.stages import get_stage
from affect.stages.base import InputError

log = logging.getLogger(__name__)


def _member(run: str, run_dir: Path) -> dict[str, Any]:
    import torch

    from affect.train.runs import read_run

    rec = read_run(run_dir)
    if rec.get("kind") == "late" or not (run_dir / "best.pt").is_file():
        raise InputError(f"{run_dir}: run {run!r} has no weights of its own (late fusion averages the unimodal "
                         "runs): export `fusion`, `baseline/early` or `unimodal/<set>`")
    ckpt = torch.load(run_dir / "best.pt", map_location="cpu", weights_only=True)
    record = {"name": run, "kind": rec["kind"], "spec": ckpt["spec"], "norm": ckpt["norm"],
              "seed": ckpt.get("seed"), "best_epoch": rec.get("best_epoch"), "val": rec.get("val", {}),
              "train_clips": len(rec.get("train_clips", [])), "validation_clips": len(rec.get("validation_clips", []))}
    return {"state_dict": ckpt["model"], "record": record}


def _stacks(runs: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """A stacked model (stage 07's `fusion`: per dimension, weights over candidates that are each the
    mean of some runs) as its structure and its leaf runs; any other model: no stacks, its own runs."""
    from affect.train.runs import read_run

    stacks, leaves = [], {}
    for run, path in sorted(runs.items()):
        rec = read_run(Path(path))
        if rec.get("kind") != "stack":
            leaves[run] = Path(path)
            continue
        candidates = []
        for c in rec["candidates"]:
            names = []
            for rel in c["runs"]:
                leaf = (Path(path) / rel).resolve()
                names.append(read_run(leaf)["name"])
                leaves[names[-1]] = leaf
            candidates.append({"name": c["name"], "runs": names})
        stacks.append({"run": run, "mode": rec.get("mode", ""), "modes": rec.get("modes", []), "candidates": candidates,
                       "weights": rec["weights"]})
    return stacks, leaves


def _validation_rows(cfg: Config, model: str, predict, members: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for run, m in members.items():
        r = m["record"]
        rows.append({"what": f"member {run} (best epoch {r['best_epoch']})", "clips": r["validation_clips"], **r["val"]})
    if model.startswith("unimodal/"):
        table = predict.upstream("unimodal").output.path / "ranking.csv"
        key, value = "feature", model.split("/", 1)[1]
    else:
        table = predict.upstream("fusion").output.path / "results.csv"
        key, value = "model", model
    if table.is_file():
        for _, row in pd.read_csv(table).iterrows():
            if row[key] == value:
                clips = max((m["record"]["validation_clips"] for m in members.values()), default=None)
                rows.append({"what": f"{model}, members averaged (stage {'06' if key == 'feature' else '07'})",
                             "clips": clips, **{k: float(row[k]) for k in ("ccc_valence", "ccc_arousal", "p_va")}})
    evaluate = get_stage("evaluate")(cfg)
    results = evaluate.output.path / "results.csv"
    if evaluate.output.done and results.is_file():
        for _, row in pd.read_csv(results).iterrows():
            if row["model"] == model and row["split"] == "validation":
                what = ("smoothed, windows chosen on the other videos" if row["predictions"] == "smoothed"
                        else row["predictions"])
                rows.append({"what": f"{model} frame predictions, {what} (stage 09)", "clips": int(row["clips"]),
                             **{k: float(row[k]) for k in ("ccc_valence", "ccc_arousal", "p_va")}})
    return rows


def _selection(cfg: Config, model: str, smoothing: dict[str, Any], members: dict[str, dict[str, Any]]) -> list[str]:
    tcfg = cfg.unimodal.train if model.startswith("unimodal/") else cfg.fusion.train
    split = ("k-fold cross-validation by video (one run per fold, scored out of fold)" if tcfg.cv
             else "the corpus's own train/validation split" if tcfg.fold < 0 else f"validation on stage 00's fold {tcfg.fold}")
    rotated = (", another group by each seed, each clip predicted by the seed that held it out"
               if tcfg.dev_rotate else "")
    where = (f"the inner development set (training videos held out of fitting{rotated}; the validation split is untouched)"
             if tcfg.select == "dev" else "the validation split (its figures are then optimistic)")
    lines = [f"split: {split}; folds by video (`_left`/`_right` together)",
             f"choices made on: {where}",
             f"each member: the epoch with the best P_VA on {where}, early stopping after "
             f"{tcfg.patience} epochs without a better one (at most {tcfg.epochs} epochs)",
             f"members: {', '.join(members)} (seeds and folds averaged)"]
    if not model.startswith("unimodal/"):
        how = ("named in fusion.features" if cfg.fusion.features else
               f"the top {cfg.fusion.top_k} of stage 06's ranking on {where}"
               + (" per dimension" if cfg.fusion.per_dimension else "")
               + (" per modality" if cfg.fusion.per_modality else ""))
        lines.append(f"feature sets: {how}")
        if model == "fusion":
            lines.append(f"fused model: per-dimension weights ({cfg.fusion.stack}) over the attention network and "
                         f"the sets' own regressors, fitted on {where}")
    lines.append(f"smoothing windows: chosen on {smoothing.get('chosen_on') or 'nothing'} among "
                 f"{cfg.predict.smooth_windows} s ({smoothing['kind']} filter)")
    return lines


def export_bundle(cfg: Config, out: Path, model: str = "fusion", command: str = "") -> Path:
    """Write `model` of the finished config `cfg` as a bundle at `out` (folder, or .tar); returns `out`."""
    from affect.bundle.card import model_card
    from affect.bundle.features import feature_record, weights_tag
    from affect.bundle.format import BUNDLE_VERSION, open_bundle, package_version, write_bundle
    from affect.data.manifest import read_manifest
    from affect.report.store import read_models
    from affect.train.aligned import read_features

    if cfg.faces.source != "detect":
        raise InputError(f"faces.source={cfg.faces.source!r}: the model was trained on the corpus's own face crops, "
                         "which new videos do not have; train with faces.source=detect to export it")
    predict = get_stage("predict")(cfg)
    if not predict.output.done:
        raise InputError(f"stage 08 predict has not finished for this config (expected {predict.output.path}): "
                         "run `affect run` with the same config and overrides first")
    models = read_models(predict.output.path)
    if model not in models:
        raise InputError(f"no model {model!r} in {predict.output.path}; models: {', '.join(sorted(models))}")
    folder = models[model]
    runs = json.loads((folder / "info.json").read_text())["members"]
    smoothing = json.loads((folder / "smoothing.json").read_text())
    stacks, leaves = _stacks(runs)
    members = {run: _member(run, Path(path)) for run, path in sorted(leaves.items())}
    used: list[str] = []
    for m in members.values():
        used += [f for f in m["record"]["spec"]["features"] if f not in used]
    align_dir = predict.upstream("align").output.path
    aligned = read_features(align_dir)
    features = {}
    for name in used:
        source = aligned[name].get("source", "")
        if source not in ("visual", "speech"):
            raise InputError(f"feature set {name!r} comes from align.external ({source}): `affect infer` cannot "
                             "compute it for new videos; export a model trained on the pipeline's own features")
        described = json.loads((predict.upstream(source).output.path / "backbones.json").read_text())
        features[name] = feature_record(name, aligned[name], described[name], weights_tag(cfg, name, source))
    manifest = read_manifest(predict.upstream("prepare").output.path)
    settings = {"seed": cfg.seed, **{s: asdict(getattr(cfg, s)) for s in ("faces", "visual", "audio", "speech", "align")}}
    info = {
        "model": model, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "affect_version": package_version(), "bundle_name": Path(out).name, "command": command,
        "features": features, "settings": settings,
        "stacks": stacks,
        "smoothing": {"kind": smoothing["kind"], "window_s": smoothing["window_s"], "chosen_on": smoothing["chosen_on"]},
        "training": {"corpus": predict.corpus_name, "fingerprint": predict.upstream("prepare").fingerprint,
                     "splits": {str(s): int(n) for s, n in manifest["split"].value_counts().sort_index().items()},
                     "validation": _validation_rows(cfg, model, predict, members),
                     "selection": _selection(cfg, model, smoothing, members)},
    }
    card = model_card({**info, "version": BUNDLE_VERSION}, members)
    path = write_bundle(Path(out), info, members, to_yaml(cfg), card)
    open_bundle(path)  # what was written reads back whole
    random_sets = [n for n, r in features.items() if r["random"]]
    log.info("export: %s (%d member(s), features %s) -> %s%s", model, len(members), ", ".join(used), path,
             f"; RANDOM weights: {', '.join(random_sets)}" if random_sets else "")
    return path
