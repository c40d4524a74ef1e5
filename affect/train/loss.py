"""The training loss: masked CCC (affect.metrics.loss), exact across data-parallel processes.

With one process this is ``affect.metrics.ccc_loss``. With N processes each holds a shard of
the batch; CCC is not a mean over frames, so averaging per-shard losses would not be the loss
of the whole batch. Instead each process computes its shard's sufficient statistics (n, sums,
sums of squares and products, float64), all-reduces a detached copy and re-attaches its own
part: every process then sees the loss of the whole batch, and the gradient w.r.t. its own
predictions is exactly that of the one-process run. Summing the gradients over processes
(``allreduce_grads``) gives the one-process gradient up to floating-point rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor

from affect.metrics.loss import LOSS_EPS, ccc_loss


def _global(local: Tensor) -> Tensor:
    import torch.distributed as dist

    total = local.detach().clone()
    dist.all_reduce(total)
    return local + (total - local.detach())


def _ccc_from_sums(s: Tensor, eps: float) -> Tensor:
    """s [..., 6] = (n, sp, st, spp, stt, spt) -> CCC [...] (NaN where undefined)."""
    n, sp, st, spp, stt, spt = s.unbind(-1)
    n_safe = n.clamp_min(1.0)
    mp, mt = sp / n_safe, st / n_safe
    var_p, var_t = spp / n_safe - mp * mp, stt / n_safe - mt * mt
    cov = spt / n_safe - mp * mt
    den = var_p + var_t + (mp - mt) ** 2 + eps
    ok = (n >= 2) & (den > 0)
    return torch.where(ok, 2 * cov / torch.where(ok, den, 1.0), torch.nan)


def _sums(pred: Tensor, target: Tensor, valid: Tensor, dim: tuple[int, ...]) -> Tensor:
    w = valid.double()
    p = torch.where(valid, pred.double(), 0.0)
    t = torch.where(valid, target.double(), 0.0)
    return torch.stack([w.sum(dim), p.sum(dim), t.sum(dim), (p * p).sum(dim), (t * t).sum(dim), (p * t).sum(dim)], -1)


def train_loss(pred: Tensor, target: Tensor, pad: Tensor, mode: str = "pooled", world: int = 1,
               eps: float = LOSS_EPS) -> tuple[Tensor, Tensor]:
    """(loss, ccc [2]) of pred/target [B, W, 2] (NaN targets invalid, per dimension), pad [B, W] True = real."""
    if world == 1:
        return ccc_loss(pred, target, pad, mode=mode, eps=eps)
    valid = ~torch.isnan(target) & pad.unsqueeze(-1)
    if mode == "pooled":
        per_dim = _ccc_from_sums(_global(_sums(pred, target, valid, (0, 1))), eps)  # [2]
    elif mode == "sequence":
        per_seq = _ccc_from_sums(_sums(pred, target, valid, (1,)), eps)  # [B, 2]
        ok = ~torch.isnan(per_seq)
        both = _global(torch.cat([torch.where(ok, per_seq, 0.0).sum(0), ok.sum(0).double()]))
        count = both[2:]
        per_dim = torch.where(count > 0, both[:2] / count.clamp_min(1.0), torch.nan)
    else:
        raise ValueError(f"loss mode must be 'pooled' or 'sequence', got {mode!r}")
    ok = ~torch.isnan(per_dim)
    mean = torch.where(ok, per_dim, 0.0).sum() / ok.sum().clamp_min(1)
    return ((1.0 - mean) * (ok.sum() > 0)).float(), per_dim.float()


def allreduce_grads(params: list[Tensor]) -> None:
    """Sum gradients over processes (one flat all-reduce)."""
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset: offset + g.numel()].view_as(g).clone()
        offset += g.numel()
