"""The pipeline's stages, in order. `get_stage(name)` imports a stage only when it is used."""
from __future__ import annotations

import importlib

from affect.stages.base import ClipError, RunOptions, Stage, StageNotReady, StageReport

# name -> (number, module:class); modules are imported lazily so that `affect --help` is fast
STAGES: dict[str, tuple[int, str]] = {
    "prepare": (0, "affect.stages.prepare:PrepareStage"),
    "faces": (1, "affect.stages.faces:FacesStage"),
    "visual": (2, "affect.stages.visual:VisualStage"),
    "audio": (3, "affect.stages.audio:AudioStage"),
    "speech": (4, "affect.stages.speech:SpeechStage"),
    "align": (5, "affect.stages.align:AlignStage"),
    "unimodal": (6, "affect.stages.unimodal:UnimodalStage"),
    "fusion": (7, "affect.stages.fusion:FusionStage"),
    "predict": (8, "affect.stages.predict:PredictStage"),
    "evaluate": (9, "affect.stages.evaluate:EvaluateStage"),
}
DESCRIPTIONS = {
    "prepare": "00 read the corpus, probe videos, reconcile labels, write the manifest and folds",
    "faces": "01 detect, track and align the target face of every frame",
    "visual": "02 visual embeddings of the face crops (CLIP, ResNet-50, SE-ResNet-50, EVA02...) per backbone",
    "audio": "03 extract each video's audio on the frames' clock: 16 kHz mono, enhanced, with a speech-activity mask",
    "speech": "04 speech-encoder features (WavLM, Whisper, openSMILE...) per clip at the encoder's rate",
    "align": "05 every feature set and the labels on each clip's time grid (0.25 s or the frame rate), with masks",
    "unimodal": "06 one temporal regressor per feature set (CCC loss); the ranking of the feature sets",
    "fusion": "07 cross-modal attention fusion of the best sets per dimension, stacked with their own regressors; early/late baselines",
    "predict": "08 every model on every frame of every clip: per-clip CSVs, ABAW submission files, smoothing",
    "evaluate": "09 challenge CCC and P_VA per model (raw, smoothed), per-clip CCC, plots, report.md",
}


def stage_names() -> list[str]:
    return sorted(STAGES, key=lambda n: STAGES[n][0])


def get_stage(name: str) -> type[Stage]:
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(stage_names())}")
    module, cls = STAGES[name][1].split(":")
    return getattr(importlib.import_module(module), cls)


def stage_range(start: str, stop: str) -> list[str]:
    """Stages from `start` to `stop` inclusive; each given by name or number."""
    names = stage_names()

    def index(key: str) -> int:
        if key.isdigit():
            for i, n in enumerate(names):
                if STAGES[n][0] == int(key):
                    return i
        if key in names:
            return names.index(key)
        raise KeyError(f"unknown stage {key!r}; stages: {', '.join(names)}")

    return names[index(start): index(stop) + 1]


__all__ = ["ClipError", "RunOptions", "Stage", "StageNotReady", "StageReport", "get_stage", "stage_names", "stage_range"]
