"""CCC in torch, and the CCC training loss.

Same maths as ``affect.metrics.ccc`` (population statistics, NaN targets excluded),
computed in at least float32 with a two-pass (centred) formula. Every valid frame
counts: nothing here looks at "the last frame" of a sequence.

Masked entries and NaN targets are replaced by 0 *before* any arithmetic and carry
weight 0, so neither NaN nor 0 * NaN can reach the result or its gradient, even
when whole rows are masked.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

Dims = int | tuple[int, ...]

#: Added to the CCC denominator by ``ccc_loss`` only (the numpy metric has none).
#: It keeps the loss finite when a batch's predictions and targets are both constant
#: and equal; against label variances of ~1e-2 it changes the CCC by ~1e-6.
LOSS_EPS: float = 1e-8


def _constant(x: Tensor, valid: Tensor, dim: Dims) -> Tensor:
    """True where all valid entries of ``x`` along ``dim`` are exactly equal."""
    with torch.no_grad():
        hi = torch.where(valid, x, -torch.inf).amax(dim=dim, keepdim=True)
        lo = torch.where(valid, x, torch.inf).amin(dim=dim, keepdim=True)
        return hi == lo


def ccc_torch(
    pred: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    dim: Dims = 0,
    eps: float = 0.0,
) -> Tensor:
    """CCC reduced over ``dim``; the other dimensions are kept.

    ``mask`` (bool, broadcastable to ``pred``) marks valid entries; NaN targets are
    invalid as well. Entries with fewer than 2 valid frames, or (with ``eps=0``) a
    zero denominator, are NaN. An exactly constant series has variance exactly 0,
    as in the numpy metric. Gradients are finite everywhere.
    """
    if pred.shape != target.shape:
        raise ValueError(f"ccc_torch: shapes differ, {tuple(pred.shape)} vs {tuple(target.shape)}")
    dtype = torch.promote_types(pred.dtype, torch.float32)
    pred, target = pred.to(dtype), target.to(dtype)
    valid = ~torch.isnan(target)
    if mask is not None:
        valid = valid & mask.to(device=pred.device, dtype=torch.bool)
    valid = valid.expand_as(pred)
    w = valid.to(dtype)
    p = torch.where(valid, pred, 0.0)
    t = torch.where(valid, target, 0.0)

    n = w.sum(dim=dim, keepdim=True)
    n_safe = n.clamp_min(1.0)
    mean_p = p.sum(dim=dim, keepdim=True) / n_safe
    mean_t = t.sum(dim=dim, keepdim=True) / n_safe
    dp = (p - mean_p) * w * ~_constant(p, valid, dim)
    dt = (t - mean_t) * w * ~_constant(t, valid, dim)
    cov = (dp * dt).sum(dim=dim, keepdim=True) / n_safe
    var_p = (dp * dp).sum(dim=dim, keepdim=True) / n_safe
    var_t = (dt * dt).sum(dim=dim, keepdim=True) / n_safe
    denominator = var_p + var_t + (mean_p - mean_t) ** 2 + eps

    defined = (n >= 2) & (denominator > 0)
    safe = torch.where(defined, denominator, 1.0)
    out = torch.where(defined, 2.0 * cov / safe, torch.nan)
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return out.squeeze(dims)


def ccc_loss(
    pred: Tensor,
    target: Tensor,
    mask: Tensor | None = None,
    mode: Literal["pooled", "sequence"] = "pooled",
    eps: float = LOSS_EPS,
) -> tuple[Tensor, Tensor]:
    """CCC loss for ``pred``/``target`` [B, T, D] and ``mask`` [B, T] (True = valid).

    ``"pooled"``: CCC per dimension over all valid frames of the batch.
    ``"sequence"``: CCC per sequence and dimension over its valid frames, averaged
    over the sequences with >= 2 valid frames.
    Returns ``(loss, ccc)``: ``loss = 1 - mean`` of the per-dimension CCC ``[D]``
    over the dimensions where it is defined (``ccc`` is NaN where it is not; it is
    still attached to the graph, detach it before logging). When no dimension is
    defined the loss is 0 with zero gradient.
    """
    if pred.ndim != 3 or pred.shape != target.shape:
        raise ValueError(
            f"ccc_loss: pred and target must both be [B, T, D], got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if mask is not None:
        if mask.shape != pred.shape[:2]:
            raise ValueError(f"ccc_loss: mask must be [B, T] = {tuple(pred.shape[:2])}, got {tuple(mask.shape)}")
        mask = mask.unsqueeze(-1)
    if mode == "pooled":
        per_dim = ccc_torch(pred, target, mask, dim=(0, 1), eps=eps)
    elif mode == "sequence":
        per_seq = ccc_torch(pred, target, mask, dim=1, eps=eps)  # [B, D]
        ok = ~torch.isnan(per_seq)
        count = ok.sum(dim=0)
        mean = torch.where(ok, per_seq, 0.0).sum(dim=0) / count.clamp_min(1)
        per_dim = torch.where(count > 0, mean, torch.nan)
    else:
        raise ValueError(f"ccc_loss: mode must be 'pooled' or 'sequence', got {mode!r}")
    ok = ~torch.isnan(per_dim)
    n_ok = ok.sum()
    mean_ccc = torch.where(ok, per_dim, 0.0).sum() / n_ok.clamp_min(1)
    loss = (1.0 - mean_ccc) * (n_ok > 0).to(mean_ccc.dtype)  # no host sync
    return loss, per_dim
