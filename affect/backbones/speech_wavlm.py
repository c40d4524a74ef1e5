"""WavLM (transformers `WavLMModel`) as speech backbones: `wavlm-base-plus`, `wavlm-large`, `wavlm-d32-random`.

Layer choice (`layer=`): `last` (the last layer's output), `<i>` (hidden state i: 0 = the input
of the first transformer layer, i = the output of layer i), `mean<k>` / `sum<k>` (mean / sum of
the last k layers' outputs). Defaults: base-plus `last`; large `sum4` (the approach we follow
summed the last four layers of WavLM-large); tiny `sum2`.

Frames. The waveform is padded by 40 samples at each end, so the convolutional front end
(400-sample receptive field, 320-sample stride) gives exactly n // 320 frames, frame k centred
at (k + 0.5) / 50 s. Long recordings go through in chunks of `chunk_s` seconds plus one
second of context on each side (dropped after the forward pass): the front end is exact across
chunk borders, the transformer sees at least a second either side of every kept frame, and
memory does not grow with duration. Chunks of equal length are batched (`batch_size`).
Input normalisation (zero mean, unit variance over the recording) follows the checkpoint's
`preprocessor_config.json` (`do_normalize`: base-plus no, large yes).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

import numpy as np

from affect.backbones.registry import register_backbone
from affect.backbones.speech_hf import HOP, TorchSpeechBackbone, build_model, model_folder, register_hf_fetcher

log = logging.getLogger(__name__)

PAD = 40  # samples added at each end: (400 - 320) / 2
RECEPTIVE = 400
CONTEXT_FRAMES = 50  # one second of context each side of a chunk
# name -> (hub repository, default layer, normalise the input by default, description)
MODELS: dict[str, tuple[str | None, str, bool, str]] = {
    "wavlm-base-plus": ("microsoft/wavlm-base-plus", "last", False, "WavLM Base+ (94M), 12 layers, D=768"),
    "wavlm-large": ("microsoft/wavlm-large", "sum4", True, "WavLM Large (316M), 24 layers, D=1024, sum of last 4"),
    "wavlm-d32-random": (None, "sum2", True, "small WavLM with RANDOM weights, for tests and the demo (4 layers, D=32)"),
}
TINY_CONFIG = dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                   conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                   feat_extract_norm="layer", do_stable_layer_norm=True, num_buckets=32)
CONFIGS = {"wavlm-base-plus": dict(), "wavlm-large": dict(hidden_size=1024, num_hidden_layers=24,
                                                          num_attention_heads=16, intermediate_size=4096,
                                                          feat_extract_norm="layer", do_stable_layer_norm=True),
           "wavlm-d32-random": TINY_CONFIG}
ALIASES = {"wavlm-tiny": "wavlm-d32-random"}  # old names, kept working with a deprecation line
MODELS.update({old: MODELS[new] for old, new in ALIASES.items()})
CONFIGS.update({old: CONFIGS[new] for old, new in ALIASES.items()})


def parse_layer(layer: str, layers: int) -> tuple[str, list[int]]:
    """`last` | `<i>` | `mean<k>` | `sum<k>` -> (how, hidden-state indices); hidden states 0..layers."""
    m = re.fullmatch(r"(mean|sum)(\d+)", layer)
    if layer == "last":
        return "one", [layers]
    if layer.isdigit() and int(layer) <= layers:
        return "one", [int(layer)]
    if m and 1 <= int(m.group(2)) <= layers:
        k = int(m.group(2))
        return m.group(1), list(range(layers - k + 1, layers + 1))
    raise ValueError(f"WavLM layer {layer!r}: expected last, 0..{layers}, mean<k> or sum<k> with 1 <= k <= {layers}")


class WavLM(TorchSpeechBackbone):
    def __init__(self, name: str, weights: str = "default", layer: str = "default", chunk_s: float = 30.0,
                 batch_size: int = 4, seed: int = 0, amp: bool = True) -> None:
        import torch
        from transformers import WavLMConfig, WavLMModel

        repo, default_layer, normalize, _ = MODELS[name]
        folder = model_folder(name, weights, repo)
        self.model, self.weights = build_model(folder, seed, lambda: WavLMModel(WavLMConfig(**CONFIGS[name])),
                                               WavLMModel.from_pretrained)
        pre = folder / "preprocessor_config.json" if folder is not None else None
        if pre is not None and pre.is_file():
            normalize = bool(json.loads(pre.read_text()).get("do_normalize", normalize))
        self.name = name
        self.normalize = normalize
        layers = self.model.config.num_hidden_layers
        self.layer = default_layer if layer == "default" else layer
        self.how, self.indices = parse_layer(self.layer, layers)
        self.dim = int(self.model.config.hidden_size)
        self.chunk_frames = max(int(chunk_s * 50), 50)
        self.batch_size = batch_size
        self.amp = amp
        self.device = torch.device("cpu")

    def _encode(self, wave: np.ndarray, n: int) -> np.ndarray:
        import torch

        norm = (float(np.mean(wave)), float(np.sqrt(np.var(wave) + 1e-7))) if self.normalize else (0.0, 1.0)
        out = np.empty((n, self.dim), np.float32)
        chunks = []  # (input start sample in the padded wave, input frames, kept frames start, kept count)
        for a in range(0, n, self.chunk_frames):
            b = min(a + self.chunk_frames, n)
            a0, b0 = max(0, a - CONTEXT_FRAMES), min(n, b + CONTEXT_FRAMES)
            chunks.append((a0, b0 - a0, a - a0, b - a))
        groups: dict[int, list[tuple[int, int, int, int]]] = {}
        for c in chunks:
            groups.setdefault(c[1], []).append(c)
        for frames, group in groups.items():
            for i in range(0, len(group), self.batch_size):
                batch = group[i:i + self.batch_size]
                x = np.stack([self._input(wave, a0, frames, norm) for a0, *_ in batch])
                y = self._forward(torch.from_numpy(x).to(self.device))
                for (a0, _, keep0, count), feats in zip(batch, y):
                    out[a0 + keep0:a0 + keep0 + count] = feats[keep0:keep0 + count]
        return out

    def _input(self, wave: np.ndarray, a0: int, frames: int, norm: tuple[float, float]) -> np.ndarray:
        """Samples (normalised) of the 40-padded wave feeding frames a0 .. a0 + frames - 1, zero beyond the ends."""
        start = a0 * HOP - PAD
        stop = start + (frames - 1) * HOP + RECEPTIVE
        x = np.zeros(stop - start, np.float32)
        lo, hi = max(start, 0), min(stop, len(wave))
        x[lo - start:hi - start] = (wave[lo:hi] - norm[0]) / norm[1]
        return x

    def _forward(self, x: Any) -> np.ndarray:
        import torch

        hidden = self.model(x, output_hidden_states=True).hidden_states
        picked = torch.stack([hidden[i] for i in self.indices])
        y = picked[0] if self.how == "one" else picked.mean(0) if self.how == "mean" else picked.sum(0)
        return y.float().cpu().numpy()

    def extra_info(self) -> dict[str, Any]:
        return {**super().extra_info(), "layers": self.model.config.num_hidden_layers, "layer_spec": self.layer,
                "normalize": self.normalize, "chunk_frames": self.chunk_frames, "context_frames": CONTEXT_FRAMES}


def _factory(name: str):
    def make(weights: str = "default", **kwargs: Any) -> WavLM:
        return WavLM(name, weights, **kwargs)

    return make


for _name, (_repo, _layer, _norm, _desc) in MODELS.items():
    register_backbone(_name, modality="speech", family="wavlm", description=_desc,
                      tiny=_repo is None, alias_of=ALIASES.get(_name, ""))(_factory(_name))
    if _repo:
        register_hf_fetcher(_name, _repo, ["config.json", "preprocessor_config.json", "*.safetensors",
                                           "pytorch_model.bin"])
