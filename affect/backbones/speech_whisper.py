"""The Whisper encoder (transformers `WhisperModel.encoder`) as speech backbones:
`whisper-base` (80 mel bins, D=512), `whisper-large-v3` (128 mel bins, D=1280), `whisper-d32-random` (random weights; old name `whisper-tiny-random`).

Features are the encoder's last hidden state (its frame features, not decoder states).

Windows. The encoder takes exactly 30 s (3000 mel frames at 100/s) and gives 1500 frames at
50/s. A recording goes through windows of 30 s every `30 - overlap_s` seconds (default 25 s),
the last one zero-padded as Whisper itself pads; each window keeps its frames up to the middle of
its overlap with the next, so every kept frame has at least `overlap_s / 2` of context on both
sides (except at the recording's ends), and the result is trimmed to n // 320 frames.

Timing. Mel frame j is centred on sample 160 j and encoder frame k on mel frame 2 k, i.e. on
sample 320 k of the window's input; each window starts 160 samples (10 ms) after its first
frame's start, so encoder frame k is centred at (k + 0.5) / 50 s like WavLM's (the first 10 ms
of a recording are not seen, a negligible loss).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from affect.backbones.registry import register_backbone
from affect.backbones.speech_hf import HOP, TorchSpeechBackbone, build_model, model_folder, register_hf_fetcher

log = logging.getLogger(__name__)

WINDOW_SAMPLES = 480000  # 30 s at 16 kHz
WINDOW_FRAMES = 1500  # encoder frames per window
SHIFT = HOP // 2  # 160 samples: see the module docstring
# name -> (hub repository, mel bins, description)
MODELS: dict[str, tuple[str | None, int, str]] = {
    "whisper-base": ("openai/whisper-base", 80, "Whisper base encoder (6 layers, D=512), 80 mel bins"),
    "whisper-large-v3": ("openai/whisper-large-v3", 128, "Whisper large-v3 encoder (32 layers, D=1280), 128 mel bins"),
    "whisper-d32-random": (None, 80, "small Whisper-style encoder with RANDOM weights, for tests and the demo "
                                     "(2 layers, D=32; not OpenAI's whisper-tiny)"),
}
CONFIGS: dict[str, dict[str, Any]] = {
    "whisper-base": dict(d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048,
                         decoder_layers=6, decoder_attention_heads=8, decoder_ffn_dim=2048, num_mel_bins=80),
    "whisper-large-v3": dict(d_model=1280, encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120,
                             decoder_layers=32, decoder_attention_heads=20, decoder_ffn_dim=5120, num_mel_bins=128,
                             vocab_size=51866),
    "whisper-d32-random": dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                                decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, num_mel_bins=80,
                                vocab_size=128, max_target_positions=32, pad_token_id=0, bos_token_id=1,
                                eos_token_id=1, decoder_start_token_id=2),
}
ALIASES = {"whisper-tiny-random": "whisper-d32-random"}  # old names, kept working with a deprecation line
MODELS.update({old: MODELS[new] for old, new in ALIASES.items()})
CONFIGS.update({old: CONFIGS[new] for old, new in ALIASES.items()})


def plan_windows(n: int, hop: int) -> list[tuple[int, int, int]]:
    """(first frame, kept from, kept to) per window for n output frames and a hop of `hop` frames."""
    if n <= WINDOW_FRAMES:
        return [(0, 0, n)]
    overlap = WINDOW_FRAMES - hop
    starts = list(range(0, n - WINDOW_FRAMES, hop)) + [None]
    starts[-1] = starts[-2] + hop
    out = []
    for i, s in enumerate(starts):
        keep_from = s if i == 0 else s + overlap // 2
        keep_to = n if i == len(starts) - 1 else s + hop + overlap // 2
        out.append((s, keep_from, min(keep_to, n)))
    return out


class WhisperEncoder(TorchSpeechBackbone):
    layer = "encoder last hidden state"

    def __init__(self, name: str, weights: str = "default", overlap_s: float = 5.0, batch_size: int = 4,
                 seed: int = 0, amp: bool = True, **_: Any) -> None:
        import torch
        from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel
        from transformers.models.whisper.modeling_whisper import WhisperEncoder as HFEncoder

        repo, mels, _desc = MODELS[name]
        folder = model_folder(name, weights, repo)
        self.model, self.weights = build_model(
            folder, seed, lambda: HFEncoder(WhisperConfig(**CONFIGS[name])),
            lambda f: WhisperModel.from_pretrained(f).get_encoder())  # the decoder is dropped
        mels = int(self.model.config.num_mel_bins)
        if folder is not None and (folder / "preprocessor_config.json").is_file():
            self.features = WhisperFeatureExtractor.from_pretrained(folder)
        else:
            self.features = WhisperFeatureExtractor(feature_size=mels)
        if self.features.feature_size != mels:
            raise ValueError(f"{name}: the feature extractor gives {self.features.feature_size} mel bins, "
                             f"the encoder wants {mels}")
        if not 0 <= overlap_s < 30:
            raise ValueError(f"{name}: overlap_s must be in [0, 30), got {overlap_s}")
        self.name = name
        self.mels = mels
        self.dim = int(self.model.config.d_model)
        self.hop_frames = WINDOW_FRAMES - 2 * int(round(overlap_s * 25))  # an even overlap in frames
        self.batch_size = batch_size
        self.amp = amp
        self.device = torch.device("cpu")

    def _encode(self, wave: np.ndarray, n: int) -> np.ndarray:
        out = np.empty((n, self.dim), np.float32)
        windows = plan_windows(n, self.hop_frames)
        for i in range(0, len(windows), self.batch_size):
            batch = windows[i:i + self.batch_size]
            y = self.forward_windows([self.window_input(wave, s) for s, _, _ in batch])
            for (s, a, b), feats in zip(batch, y):
                out[a:b] = feats[a - s:b - s]
        return out

    @staticmethod
    def window_input(wave: np.ndarray, first_frame: int) -> np.ndarray:
        """The 30 s of samples a window starting at encoder frame `first_frame` reads (zero-padded)."""
        start = first_frame * HOP + SHIFT
        x = np.zeros(WINDOW_SAMPLES, np.float32)
        part = wave[start:start + WINDOW_SAMPLES]
        x[:len(part)] = part
        return x

    def forward_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        """[B] windows of 480000 samples -> float32 [B, 1500, D]."""
        import torch

        feats = self.features(windows, sampling_rate=16000, return_tensors="pt", device=str(self.device))
        mel = feats["input_features"].to(self.device, dtype=next(self.model.parameters()).dtype)
        with torch.inference_mode():
            return self.model(mel).last_hidden_state.float().cpu().numpy()

    def extra_info(self) -> dict[str, Any]:
        return {**super().extra_info(), "mel_bins": self.mels, "window_s": 30.0,
                "overlap_s": (WINDOW_FRAMES - self.hop_frames) / 50.0}


def _factory(name: str):
    def make(weights: str = "default", **kwargs: Any) -> WhisperEncoder:
        return WhisperEncoder(name, weights, **kwargs)

    return make


for _name, (_repo, _mels, _desc) in MODELS.items():
    register_backbone(_name, modality="speech", family="whisper", description=_desc,
                      tiny=_repo is None, alias_of=ALIASES.get(_name, ""))(_factory(_name))
    if _repo:
        register_hf_fetcher(_name, _repo, ["config.json", "preprocessor_config.json", "*.safetensors"])
