"""Temporal regressors over one feature set (stage 06) or several concatenated (the early-fusion baseline)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from affect.models.blocks import Projections, sinusoid

KINDS = ("gru", "tcn", "transformer")


class TCN(nn.Module):
    """Non-causal residual dilated convolutions (kernel 3, dilation 1, 2, 4, ...)."""

    def __init__(self, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(hidden, hidden, 3, padding=2 ** i, dilation=2 ** i), nn.GELU(), nn.Dropout(dropout))
            for i in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        x = x.transpose(1, 2)
        for block in self.blocks:
            x = x + block(x)
        return x.transpose(1, 2)


class TemporalRegressor(nn.Module):
    """features -> projections (summed, = a linear map of their concatenation) -> gru|tcn|transformer -> tanh(V, A)."""

    def __init__(self, features: list[str], dims: dict[str, int], kind: str = "gru", hidden: int = 64,
                 layers: int = 2, dropout: float = 0.1, heads: int = 4, substeps: dict[str, int] | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown model {kind!r}; models: {', '.join(KINDS)}")
        self.kind = kind
        self.inputs = Projections(features, dims, hidden, dropout, substeps or {})
        if kind == "gru":
            self.body: nn.Module = nn.GRU(hidden, hidden // 2, layers, batch_first=True, bidirectional=True,
                                          dropout=dropout if layers > 1 else 0.0)
        elif kind == "tcn":
            self.body = TCN(hidden, layers, dropout)
        else:
            layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout, batch_first=True, norm_first=True)
            self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(hidden, 2)

    def forward(self, batch: dict) -> Tensor:
        h = torch.stack(list(self.inputs(batch).values())).sum(0)  # [B, W, H]
        if self.kind == "gru":
            h = self.body(h)[0]
        elif self.kind == "tcn":
            h = self.body(h)
        else:
            h = h + sinusoid(h.shape[1], h.shape[2], h.device)
            h = self.body(h, src_key_padding_mask=~batch["pad"])
        return torch.tanh(self.head(h))
