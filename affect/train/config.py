"""`AlignConfig`, `UnimodalConfig`, `FusionConfig`: the typed configs of stages 05-07.

`TrainConfig` holds what the training harness (affect/train/trainer.py) needs; stages 06 and 07
each carry one, so the unimodal and fusion runs can be tuned apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field

NOHASH = {"hash": False}
SPEECH_MASKS = ("voice", "subject", "none")


@dataclass
class AlignConfig:
    """Stage 05 `align`: every feature set and the labels on each clip's time grid."""

    hop: float = 0.25  # grid hop in seconds; 0 = each video's own frame rate
    features: list[str] = field(default_factory=list)  # feature sets (backbone names) to align; empty = all found
    external: list[str] = field(default_factory=list)  # more feature folders (backbones.json + clips/<clip>/<name>.npz) made elsewhere
    substeps: bool = True  # also keep speech features at k sub-steps per grid step (learned strided-conv front end)
    speech_mask: str = "voice"  # mask speech features where nobody speaks: voice (stage 03's activity) | subject (voice AND the face's mouth moving) | none
    mouth_threshold: float = 0.02  # speech_mask=subject: the mouth moves where its opening's std over mouth_window_s exceeds this (inter-ocular distances)
    mouth_window_s: float = 0.5  # speech_mask=subject: seconds over which the mouth opening's movement is measured

    def __post_init__(self) -> None:
        # earlier configs had a bool: true = voice, false = none (OmegaConf turns a bool given to a str field into "True"/"False")
        legacy = {"true": "voice", "false": "none", "1": "voice", "0": "none"}
        value = str(self.speech_mask).strip().lower()
        self.speech_mask = legacy.get(value, value)
        if self.speech_mask not in SPEECH_MASKS:
            raise ValueError(f"align.speech_mask must be one of {', '.join(SPEECH_MASKS)} (or the older true/false), "
                             f"got {self.speech_mask!r}")


@dataclass
class TrainConfig:
    """The training harness: windows, optimiser, schedule, early stopping, split."""

    window: int = 64  # W: grid steps per training window (64 x 0.25 s = 16 s)
    stride: int = 32  # S: steps between window starts
    batch_size: int = 16  # windows per optimiser step (all processes together)
    epochs: int = 30  # at most this many passes over the training windows
    lr: float = 2e-3  # AdamW peak learning rate
    weight_decay: float = 1e-2  # AdamW decoupled weight decay
    warmup: int = 20  # optimiser steps of linear warm-up, then cosine decay to lr/20
    clip_grad: float = 1.0  # max gradient norm (0 = off)
    patience: int = 8  # early stopping: epochs without a better P_VA (grid CCC) on the selection set (see select)
    hidden: int = 64  # model width
    layers: int = 2  # temporal layers
    dropout: float = 0.1  # dropout inside the model
    loss: str = "pooled"  # pooled (CCC over all frames of the batch) | sequence (per window, averaged)
    fold: int = -1  # -1 = the corpus's own train/validation split; k = validate on prepare's fold k, train on the rest
    cv: bool = False  # k-fold cross-validation: one run per prepare fold (<model>@fold<k>), scored out of fold; test = their mean
    select: str = "dev"  # dev: early stopping, ranking, top-k and smoothing chosen on an inner dev set of training videos | validation: chosen on the validation split (figures marked "selected on validation")
    dev_fraction: float = 0.2  # select=dev: share of the training videos (at least 1) held out of fitting as the inner dev set
    dev_rotate: bool = True  # select=dev with several seeds: seed k holds out group k of the training videos (groups of dev_fraction), so choices are made on every group held out (cross-fitting); false: every seed holds out the same group
    audio_frontend: str = "interp"  # interp (stage 05's pooled/interpolated grid) | conv (learned strided conv over sub-steps)
    amp: bool = field(default=True, metadata=NOHASH)  # float16 autocast + gradient scaling on CUDA (the CPU: float32)
    resume: bool = field(default=True, metadata=NOHASH)  # continue from a run's `last` checkpoint when one exists
    workers: int = field(default=0, metadata=NOHASH)  # data-loader processes


@dataclass
class UnimodalConfig:
    """Stage 06 `unimodal`: one temporal regressor per feature set, and their ranking."""

    model: str = "gru"  # gru | tcn | transformer
    features: list[str] = field(default_factory=list)  # feature sets to train; empty = every aligned one
    seeds: int = 1  # train each feature set this many times (runs <feature>@seed<k>) and average them: set it to fusion.seeds so the late-fusion and best-single rows are ensembles of as many seeds as fusion
    train: TrainConfig = field(default_factory=TrainConfig)


@dataclass
class FusionConfig:
    """Stage 07 `fusion`: the cross-modal attention fusion regressor and the baselines."""

    features: list[str] = field(default_factory=list)  # feature sets by name; empty = the top `top_k` of the ranking
    top_k: int = 2  # with features empty: how many of the unimodal ranking's best to fuse (per modality, see per_modality)
    narrow_k: int = 1  # with features empty: also train the attention network on the top narrow_k sets (chosen as top_k's), fusion/xattn-narrow, a candidate of the stack beside fusion/xattn; 0 = off (and none where they are top_k's sets)
    per_modality: bool = True  # top_k counts per modality: the k best visual and the k best speech sets
    per_dimension: bool = True  # fuse the top_k by valence CCC and the top_k by arousal CCC (union), not the top_k by P_VA
    stack: str = "auto"  # the fused model, per dimension: auto (of the four below, the one that predicts best each selection video held out) | pair (mean of fusion/xattn and the best other candidate: fusion/xattn-narrow or a set's own regressor) | blend (CCC-best weights over the attention networks and the sets' regressors) | pick (the best of them) | off (fusion/xattn alone)
    heads: int = 4  # attention heads
    modality_dropout: float = 0.2  # training: probability of hiding one whole modality of a window
    baselines: bool = True  # also train early concatenation + GRU, and score late fusion (unimodal average)
    seeds: int = 1  # train fusion and the early baseline this many times (seeds seed, seed+1, ...) and average them
    train: TrainConfig = field(default_factory=TrainConfig)
