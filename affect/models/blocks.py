"""Building blocks shared by the regressors: input projections (linear or strided conv) and positions."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoid(steps: int, dim: int, device: torch.device | None = None) -> Tensor:
    """[steps, dim] sinusoidal positions (Vaswani et al.), step index as the position."""
    pos = torch.arange(steps, dtype=torch.float32, device=device)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    out = torch.zeros(steps, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return out


class InputProjection(nn.Module):
    """One feature set [B, W, D] (+ its mask [B, W]) -> [B, W, H].

    ``substeps`` k = 0: a linear map of the grid values (stage 05 pooled/interpolated them).
    k >= 2: a learned strided 1-D convolution (kernel k, stride k) over the k sub-steps of each
    grid step, i.e. over the encoder's native-rate frames. The mask enters as an extra channel,
    and masked inputs are zeroed, so a missing face or silence is seen, never guessed.
    """

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, substeps: int = 0):
        super().__init__()
        self.substeps = substeps
        if substeps:
            self.proj: nn.Module = nn.Conv1d(dim + 1, hidden, kernel_size=substeps, stride=substeps)
        else:
            self.proj = nn.Linear(dim + 1, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        m = mask.to(x.dtype).unsqueeze(-1)
        z = torch.cat([x * m, m], dim=-1)
        if self.substeps:
            z = self.proj(z.transpose(1, 2)).transpose(1, 2)
        else:
            z = self.proj(z)
        return self.drop(self.norm(z))


class Projections(nn.Module):
    """One InputProjection per feature set; reads a batch's ``x``/``m`` (or ``sub``/``sub_m``)."""

    def __init__(self, features: list[str], dims: dict[str, int], hidden: int, dropout: float,
                 substeps: dict[str, int]):
        super().__init__()
        self.features = list(features)
        self.conv = {f: int(substeps.get(f, 0)) for f in features}
        self.proj = nn.ModuleDict({f: InputProjection(dims[f], hidden, dropout, self.conv[f]) for f in features})

    def forward(self, batch: dict, masks: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """name -> [B, W, H]. ``masks`` overrides grid masks (modality dropout); sub-masks follow them."""
        out = {}
        for f in self.features:
            m = batch["m"][f] if masks is None else masks[f]
            if self.conv[f]:
                k = self.conv[f]
                sub_m = batch["sub_m"][f] & m.repeat_interleave(k, dim=1)
                out[f] = self.proj[f](batch["sub"][f], sub_m)
            else:
                out[f] = self.proj[f](batch["x"][f], m)
        return out
