"""The training loop (nanoGPT-sized): one function, `fit`, for every regressor of stages 06 and 07.

Masked CCC loss, AdamW, linear warm-up then cosine decay, gradient clipping, float16 autocast
with gradient scaling on CUDA (``train.amp``; the loss itself is float32/float64), early stopping on
the selection set's global P_VA over whole clips (the inner development set with ``train.select=dev``,
the validation split with ``select=validation``), measured as "grid CCC": the challenge's formula
on the labels averaged onto stage 05's grid (0.25 s by default), not on every video frame (stage 09
scores frames). With ``select=dev`` the validation split is predicted once, by ``best.pt``, at the
end (``run.json``'s ``val``); the selection scores are ``selection``. Checkpoints
``last.pt`` / ``best.pt`` (model, optimizer, spec, train config, normalisation, epoch, step, best
score, history; loaded with ``weights_only=True``), resume from ``last.pt``, seeds, a CSV log
per epoch (TensorBoard too when installed), tqdm.

Data-parallel: under ``torchrun`` (WORLD_SIZE > 1) every process draws the same global batch
order and takes every N-th window of each batch; the loss is the whole batch's
(affect/train/loss.py) and gradients are summed with one all-reduce, so N processes follow the
one-process run up to floating-point rounding (with dropout off; dropout draws differ per
process). Backend: NCCL on CUDA, gloo on CPU.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from affect.cache.atomic import atomic_path, write_json
from affect.train.aligned import check_features, load_clip, read_features
from affect.train.config import TrainConfig
from affect.train.data import (EpochBatches, Split, Windows, array_bytes, check_labelled, collate, fit_loader,
                               fit_normaliser, plan_split, to_device)

log = logging.getLogger(__name__)
RUN_JSON = "run.json"
GRID_CCC = "grid CCC: the challenge's global CCC on the labels averaged onto stage 05's grid (not per video frame)"


def dist_info(device: str) -> tuple[int, int]:
    """(rank, world); initialises torch.distributed under torchrun (NCCL on CUDA, gloo otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if str(device).startswith("cuda") else "gloo")
    return dist.get_rank(), dist.get_world_size()


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up over ``cfg.warmup`` steps, then cosine from lr down to lr / 20 at ``total``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, total - cfg.warmup))
    return cfg.lr / 20 + (cfg.lr - cfg.lr / 20) * 0.5 * (1.0 + math.cos(math.pi * progress))


def model_spec(kind: str, features: list[str], align_dir: Path, cfg: TrainConfig, **extra: Any) -> dict[str, Any]:
    """The spec that `affect.models.build_model` rebuilds a model from (stored with the checkpoint)."""
    info = read_features(align_dir)
    features = check_features(features, info)
    substeps = ({f: int(info[f].get("substeps", 0)) for f in features if info[f].get("substeps", 0)}
                if cfg.audio_frontend == "conv" else {})
    if cfg.audio_frontend not in ("interp", "conv"):
        raise ValueError(f"audio_frontend must be interp or conv, got {cfg.audio_frontend!r}")
    return {"kind": kind, "features": features, "dims": {f: int(info[f]["dim"]) for f in features},
            "substeps": substeps, "hidden": cfg.hidden, "layers": cfg.layers, "dropout": cfg.dropout,
            "window": cfg.window, **extra}


def predict_clips(model, align_dir: Path, clips: list[str], spec: dict, norm: dict, device: str,
                  rank: int = 0, world: int = 1) -> dict[str, np.ndarray]:
    """Whole-clip predictions for ``clips`` (sharded over processes, gathered on all)."""
    from affect.train.infer import predict_clip

    mine = {c: predict_clip(model, load_clip(align_dir, c, spec["features"]), spec["features"], norm,
                            spec["window"], spec["substeps"], device) for c in clips[rank::world]}
    if world > 1:
        import torch.distributed as dist

        parts: list = [None] * world
        dist.all_gather_object(parts, mine)
        mine = {k: v for part in parts for k, v in part.items()}
    return mine


def validate(preds: dict[str, np.ndarray], align_dir: Path, clips: list[str]) -> dict[str, float]:
    """Global grid CCC (valence, arousal) and P_VA over ``clips`` concatenated, with how many clips and
    valid grid steps (both dimensions labelled) it was measured on."""
    import warnings

    from affect.metrics import evaluate

    labels = {c: load_clip(align_dir, c, features=[]).labels for c in clips}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate(preds, labels)
    return {"ccc_valence": report.ccc_valence, "ccc_arousal": report.ccc_arousal, "p_va": report.p_va,
            "clips": report.clips, "valid_steps": report.valid_frames}


SCORE_KEYS = ("ccc_valence", "ccc_arousal", "p_va", "clips", "valid_steps")


def score_validation_once(model, run_dir: Path, align_dir: Path, split: Split, spec: dict, norm: dict, device: str,
                          rank: int, world: int) -> dict[str, float]:
    """The validation split predicted by the best epoch's weights (``best.pt``), once, after training."""
    import torch

    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # rank 0 has written best.pt
    ckpt = torch.load(Path(run_dir) / "best.pt", map_location=device, weights_only=True)
    model.load_state_dict(ckpt["model"])
    model.eval()
    preds = predict_clips(model, align_dir, split.validation, spec, norm, device, rank, world)
    return validate(preds, align_dir, split.validation)


def _save(path: Path, state: dict) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _tensorboard(run_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # tensorboard is optional
        return None
    return SummaryWriter(str(run_dir / "tb"))


def fit(run_dir: Path, align_dir: Path, spec: dict[str, Any], cfg: TrainConfig, seed: int = 0,
        device: str = "cpu", name: str = "", split: Split | None = None,
        stop_after: int | None = None) -> dict[str, Any]:
    """Train ``spec`` on stage 05's ``align_dir``; write checkpoints and logs into ``run_dir``.

    Returns the run record (also ``run.json``): name, spec, best epoch, validation scores.
    A finished run (``run.json`` present) is returned as is; with ``cfg.resume`` an unfinished
    one continues from ``last.pt``. ``stop_after`` ends this call after that epoch (as a kill
    would; used by tests), without writing ``run.json``.
    """
    import torch

    from affect.models import build_model
    from affect.train.loss import allreduce_grads, train_loss

    run_dir, align_dir = Path(run_dir), Path(align_dir)
    if cfg.resume and (run_dir / RUN_JSON).is_file():
        log.info("%s: already trained (%s)", name or run_dir.name, run_dir / RUN_JSON)
        return json.loads((run_dir / RUN_JSON).read_text())
    rank, world = dist_info(device)
    split = split or plan_split(align_dir, cfg.fold, cfg.select, cfg.dev_fraction)
    check_labelled(align_dir, split.train, "train")
    check_labelled(align_dir, split.validation, "validation")
    if split.dev:
        check_labelled(align_dir, split.dev, "inner development")
    features = spec["features"]
    plan = fit_loader([load_clip(align_dir, c, features=[]).steps for c in split.train], spec["window"], cfg.stride,
                      cfg.batch_size, cfg.workers, world, array_bytes(align_dir, split.train, features))
    if plan.changes and rank == 0:
        log.info("%s: fitted to the training set: %s", name or run_dir.name, "; ".join(plan.changes))
    spec = {**spec, "window": plan.window}
    cfg = replace(cfg, window=plan.window, stride=plan.stride, batch_size=plan.batch_size, workers=plan.workers)
    norm = fit_normaliser(align_dir, split.train, features)
    data = Windows(align_dir, split.train, features, norm, cfg.window, cfg.stride, spec["substeps"])
    if len(data) < world:
        raise ValueError(f"{len(data)} training windows for {world} processes")
    torch.manual_seed(seed)
    model = build_model(spec).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = bool(cfg.amp) and str(device).startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp)  # disabled (CPU, amp off): every call passes through
    batches_per_epoch = max(1, len(data) // cfg.batch_size + (len(data) % cfg.batch_size >= world))
    total = cfg.epochs * batches_per_epoch
    state = {"epoch": -1, "step": 0, "best": -math.inf, "best_epoch": -1, "history": [], "bad_epochs": 0}
    last = run_dir / "last.pt"
    if cfg.resume and last.is_file():
        ckpt = torch.load(last, map_location=device, weights_only=True)
        if ckpt["spec"] != spec:
            raise ValueError(f"{last} was trained with another model spec; remove it or set resume=false")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        if amp and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        state = {k: ckpt[k] for k in state}
        log.info("%s: resuming after epoch %d (best P_VA %.4f)", name, state["epoch"], state["best"])
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        log.info("%s: %d train / %d inner dev / %d validation clips (choices made on %s), %d windows of %d steps, "
                 "%d batches per epoch, %s, %d process(es)", name, len(split.train), len(split.dev),
                 len(split.validation), split.selected_on, len(data), cfg.window, batches_per_epoch, device, world)
    tb = _tensorboard(run_dir) if rank == 0 else None
    sampler = EpochBatches()  # one loader for the run: its worker processes (if any) live across epochs
    loader = torch.utils.data.DataLoader(data, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.workers,
                                         persistent_workers=cfg.workers > 0)
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        if state["bad_epochs"] >= cfg.patience:
            break
        torch.manual_seed(seed * 1_000_003 + epoch * 7919 + rank)  # dropout draws: a resumed epoch is the same
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
        batches = [order[i: i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        batches = [b for b in batches if len(b) >= world][:batches_per_epoch]
        model.train()
        start, losses = time.perf_counter(), []
        sampler.batches = [b[rank::world] for b in batches]
        for batch in tqdm(loader, desc=f"{name} epoch {epoch}", unit="batch", leave=False, disable=True if rank != 0 else None):
            batch = to_device(batch, device)
            for group in opt.param_groups:
                group["lr"] = lr_at(state["step"], total, cfg)
            with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
                pred = model(batch)
            loss, _ = train_loss(pred.float(), batch["y"], batch["pad"], cfg.loss, world)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if world > 1:  # summed before unscaling: every process then sees the same gradients (and infs)
                allreduce_grads(params)
            scaler.unscale_(opt)
            if cfg.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
            scaler.step(opt)  # skipped when float16 gradients overflowed; the scale then shrinks
            scaler.update()
            state["step"] += 1
            losses.append(float(loss.detach()))
        seconds = time.perf_counter() - start
        preds = predict_clips(model, align_dir, split.selection, spec, norm, device, rank, world)
        scores = validate(preds, align_dir, split.selection)
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)), **scores, "scored_on": split.selected_on,
               "lr": lr_at(max(state["step"] - 1, 0), total, cfg), "seconds": round(seconds, 3),
               "windows_per_s": round(sum(len(b) for b in batches) / max(seconds, 1e-9), 1)}
        state["history"].append(row)
        state["epoch"] = epoch
        # the first epoch is "best" until a defined P_VA beats it, so best.pt always exists
        improved = state["best_epoch"] < 0 or (np.isfinite(scores["p_va"]) and scores["p_va"] > state["best"])
        if improved:
            best = scores["p_va"] if np.isfinite(scores["p_va"]) else -math.inf
            state["best"], state["best_epoch"], state["bad_epochs"] = best, epoch, 0
        else:
            state["bad_epochs"] += 1
        if rank == 0:
            ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "spec": spec, "train": asdict(cfg),
                    "norm": norm, "seed": seed, "name": name, "scaler": scaler.state_dict() if amp else {}, **state}
            _save(last, ckpt)
            if improved:
                _save(run_dir / "best.pt", ckpt)
            _write_history(run_dir / "history.csv", state["history"])
            if tb is not None:
                for k, v in row.items():
                    if isinstance(v, (int, float)):
                        tb.add_scalar(k, v, epoch)
            log.info("%s epoch %d: loss %.4f, %s grid CCC V %.4f A %.4f P_VA %.4f%s", name, epoch, row["train_loss"],
                     split.selected_on, scores["ccc_valence"], scores["ccc_arousal"], scores["p_va"],
                     " (best)" if improved else "")
        if stop_after is not None and epoch >= stop_after:
            return {"name": name, "stopped_after": epoch, "history": state["history"]}
    if not np.isfinite(state["best"]):
        log.warning("%s: %s P_VA was never defined (constant predictions or labels?)", name, split.selected_on)
    best = next(r for r in state["history"] if r["epoch"] == state["best_epoch"])
    selection = {k: best[k] for k in SCORE_KEYS if k in best}
    val = (score_validation_once(model, run_dir, align_dir, split, spec, norm, device, rank, world)
           if split.dev else selection)
    if rank == 0 and split.dev:
        log.info("%s: validation (scored once, epoch %d chosen on the inner dev set) grid CCC V %.4f A %.4f P_VA %.4f",
                 name, state["best_epoch"], val["ccc_valence"], val["ccc_arousal"], val["p_va"])
    record = {"name": name, "kind": spec["kind"], "spec": spec, "features": features, "best_epoch": state["best_epoch"],
              "epochs_run": state["epoch"] + 1, "train_clips": split.train, "dev_clips": split.dev,
              "validation_clips": split.validation, "selected_on": split.selected_on, "metric": GRID_CCC,
              "selection": selection, "val": val,
              "windows_per_s": float(np.median([r["windows_per_s"] for r in state["history"]])),
              "history": state["history"], "world": world}
    if rank == 0:
        write_json(run_dir / RUN_JSON, record)
    if tb is not None:
        tb.close()
    return record


def _write_history(path: Path, rows: list[dict]) -> None:
    """The per-epoch log, rewritten whole (atomically) so that a resumed run never duplicates rows."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
