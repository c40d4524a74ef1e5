"""Trained runs of stages 06/07, for stage 08 `predict`: find them, predict on the grid.

A run folder holds ``run.json`` (name, kind, spec, validation scores) and ``best.pt``; a
late-fusion run holds no weights, only its members (unimodal run folders, relative paths).

    list_runs(stage_dir) -> {"unimodal/<feature>": Path, ...} or {"fusion", "baseline/early", "baseline/late"}
    predict_grid(run_dir, align_dir, clips, device="cpu") -> {clip: float32 [steps, 2] in [-1, 1]}
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from affect.train.aligned import list_clips, read_features

log = logging.getLogger(__name__)
RUN_JSON = "run.json"


def list_runs(stage_dir: Path) -> dict[str, Path]:
    """Finished runs under a stage-06/07 folder: run name -> run folder (sorted by name)."""
    stage_dir = Path(stage_dir)
    runs = {}
    for path in sorted((stage_dir / "runs").rglob(RUN_JSON)):
        runs[json.loads(path.read_text())["name"]] = path.parent
    return dict(sorted(runs.items()))


def read_run(run_dir: Path) -> dict:
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: not a finished training run")
    return json.loads(path.read_text())


def load_model(run_dir: Path, device: str = "cpu"):
    """(model in eval mode, checkpoint dict) from ``best.pt``, loaded with weights_only=True."""
    import torch

    from affect.models import build_model

    ckpt = torch.load(Path(run_dir) / "best.pt", map_location=device, weights_only=True)
    model = build_model(ckpt["spec"]).to(device)
    model.load_state_dict(ckpt["model"])
    return model.eval(), ckpt


def _check(run: dict, align_dir: Path, clips: list[str]) -> None:
    available = read_features(align_dir)
    missing = [f for f in run.get("features", []) if f not in available]
    if missing:
        raise ValueError(f"run {run['name']!r} needs feature set(s) {', '.join(missing)} that {align_dir} lacks; "
                         f"it has: {', '.join(available) or '(none)'}")
    known = set(list_clips(align_dir))
    unknown = [c for c in clips if c not in known]
    if unknown:
        raise ValueError(f"clip(s) not in {align_dir}: {', '.join(unknown[:20])}")


def predict_grid(run_dir: Path, align_dir: Path, clips: list[str], device: str = "cpu") -> dict[str, np.ndarray]:
    """Predictions on each clip's stage-05 grid: {clip: float32 [steps, 2]} (valence, arousal) in [-1, 1]."""
    from affect.train.aligned import load_clip
    from affect.train.infer import predict_clip

    run_dir, align_dir = Path(run_dir), Path(align_dir)
    run = read_run(run_dir)
    _check(run, align_dir, list(clips))
    if run["kind"] == "late":
        members = [run_dir / m for m in run["members"]]
        parts = [predict_grid(m, align_dir, clips, device) for m in members]
        return {c: np.mean([p[c] for p in parts], axis=0).astype(np.float32) for c in clips}
    if run["kind"] == "stack":
        return predict_stack(run, run_dir, align_dir, clips, device)
    model, ckpt = load_model(run_dir, device)
    spec = ckpt["spec"]
    return {c: predict_clip(model, load_clip(align_dir, c, spec["features"]), spec["features"], ckpt["norm"],
                            spec["window"], spec["substeps"], device) for c in clips}


def candidate_predictions(run_dirs: list[Path], align_dir: Path, clips: list[str], device: str = "cpu"
                          ) -> dict[str, np.ndarray]:
    """One candidate of a stack: per clip, the mean of its runs (seeds of one split) that were not fitted on
    the clip (with ``train.dev_rotate`` a training clip is fitted on by some seeds and held out by another:
    the ones that held it out), or of every run where each was fitted on it (an in-sample prediction, which
    stage 08 marks as such from the stack's own ``train_clips``)."""
    from affect.report.ensemble import average

    fitted = [set(read_run(d).get("train_clips", [])) for d in run_dirs]
    out, problems = average([predict_grid(d, align_dir, clips, device) for d in run_dirs], fitted, in_sample=clips)
    if problems:
        raise RuntimeError(f"stack candidate {', '.join(str(d) for d in run_dirs)}: {problems}")
    return out


def predict_stack(run: dict, run_dir: Path, align_dir: Path, clips: list[str], device: str = "cpu"
                  ) -> dict[str, np.ndarray]:
    """A stack run's predictions: each clip combined with the weights fitted without its video when
    the stack was fitted on it (``held_out``), else with the weights fitted on every clip."""
    from affect.train.stacking import combine

    parts = [candidate_predictions([run_dir / m for m in candidate["runs"]], align_dir, clips, device)
             for candidate in run["candidates"]]  # in the order of the weights' columns
    weights = np.asarray(run["weights"], np.float64)
    held_out = run.get("held_out", {})
    return {c: combine([p[c] for p in parts], np.asarray(held_out[c]) if c in held_out else weights) for c in clips}
