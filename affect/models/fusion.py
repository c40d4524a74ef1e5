"""Cross-modal attention fusion (the approach of arXiv 2403.15044, stage 07).

Each modality's projection is first read by its own bidirectional GRU (the unimodal regressor's
temporal body), so every stream carries its own temporal context, as a unimodal model would.
Then for each modality m: queries from m, keys/values from every other modality (all their
time steps, with a key-padding mask for missing frames, plus one learned always-valid "null"
key so a step whose other modalities are all missing still has something to attend to), added
to m's own stream (residual). The M results are concatenated, mixed by a linear map and a
bidirectional GRU over time, and a head regresses (valence, arousal). Modality dropout hides
one whole modality of a training window at random, so the model learns to work when a face or
the voice is missing.

Why GRUs and not self-attention over time: with 5-15 training clips a self-attention encoder
fits the training clips through the (high-dimensional, weakly informative) visual sets and
misses the voice's arousal; the GRU's smoothing inductive bias keeps it (docs/training.md).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from affect.models.blocks import Projections, sinusoid


def bigru(hidden: int, layers: int, dropout: float) -> nn.GRU:
    return nn.GRU(hidden, hidden // 2, layers, batch_first=True, bidirectional=True,
                  dropout=dropout if layers > 1 else 0.0)


class CrossModalFusion(nn.Module):
    def __init__(self, features: list[str], dims: dict[str, int], hidden: int = 64, layers: int = 2,
                 heads: int = 4, dropout: float = 0.1, modality_dropout: float = 0.2,
                 substeps: dict[str, int] | None = None):
        super().__init__()
        self.features = list(features)
        self.modality_dropout = modality_dropout
        self.inputs = Projections(features, dims, hidden, dropout, substeps or {})
        self.own = nn.ModuleDict({f: bigru(hidden, 1, 0.0) for f in features})
        self.null = nn.ParameterDict({f: nn.Parameter(torch.zeros(1, 1, hidden)) for f in features})
        self.cross = nn.ModuleDict({f: nn.MultiheadAttention(hidden, heads, dropout, batch_first=True)
                                    for f in features})
        self.cross_norm = nn.ModuleDict({f: nn.LayerNorm(hidden) for f in features})
        self.mix = nn.Linear(hidden * len(features), hidden)
        self.encoder = bigru(hidden, layers, dropout)
        self.head = nn.Linear(hidden, 2)

    def _drop_modalities(self, masks: dict[str, Tensor]) -> dict[str, Tensor]:
        """Training only: per window, with probability p hide one modality chosen at random."""
        if not self.training or self.modality_dropout <= 0 or len(self.features) < 2:
            return masks
        first = masks[self.features[0]]
        b = first.shape[0]
        hide = torch.rand(b, device=first.device) < self.modality_dropout
        which = torch.randint(len(self.features), (b,), device=first.device)
        return {f: m & ~(hide & (which == i))[:, None] for i, (f, m) in enumerate(masks.items())}

    def forward(self, batch: dict) -> Tensor:
        masks = self._drop_modalities({f: batch["m"][f] for f in self.features})
        h = self.inputs(batch, masks)
        steps, hidden = next(iter(h.values())).shape[1:]
        pos = sinusoid(steps, hidden, next(iter(h.values())).device)
        h = {f: self.own[f](v)[0] + pos for f, v in h.items()}
        outs = []
        for f in self.features:
            q = h[f]
            b = q.shape[0]
            keys = [self.null[f].expand(b, 1, hidden)] + [h[o] for o in self.features if o != f]
            valid = [torch.ones(b, 1, dtype=torch.bool, device=q.device)] + [masks[o] for o in self.features if o != f]
            kv = torch.cat(keys, dim=1)
            attended = self.cross[f](q, kv, kv, key_padding_mask=~torch.cat(valid, dim=1), need_weights=False)[0]
            outs.append(self.cross_norm[f](q + attended))
        z = self.mix(torch.cat(outs, dim=-1))
        return torch.tanh(self.head(self.encoder(z)[0]))
