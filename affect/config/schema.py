"""The typed configuration: one dataclass per stage, grouped in `Config`.

Fields whose metadata says `hash=False` (speed knobs, paths of the cache itself) do not
enter a stage's fingerprint; every other field does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from affect.audio.config import AudioConfig, SpeechConfig
from affect.face.config import FacesConfig
from affect.report.config import EvaluateConfig, PredictConfig
from affect.train.config import AlignConfig, FusionConfig, UnimodalConfig
from affect.visual.config import VisualConfig

NOHASH = {"hash": False}


@dataclass
class CorpusConfig:
    """Where the corpus is and how it is laid out."""

    root: str = field(default="demo/corpus", metadata=NOHASH)  # corpus folder (its files are fingerprinted)
    name: str = field(default="", metadata=NOHASH)  # its cache folder's name; default: root's folder name
    layout: str = "affwild2"  # affwild2 | csv
    csv: str = ""  # layout=csv: the clip list (clip,video[,labels,side,split]); relative to root
    videos_dir: str = "videos"  # affwild2: searched recursively for <video>.mp4/.avi
    annotations_dir: str = "annotations/VA_Estimation_Challenge"  # Train_Set/, Validation_Set/
    test_list: str = "annotations/VA_Estimation_Challenge/test_set.txt"  # test clip names (optional)
    cropped_dir: str = "cropped_aligned"  # Aff-Wild2's provided aligned crops (optional)


@dataclass
class PrepareConfig:
    """Stage 00: the manifest of clips, labels on video frames, folds by video."""

    folds: int = 5  # k of the k-fold split by video (train + validation videos)
    fold_seed: int = 0  # seed of the fold assignment
    max_count_diff: int = 30  # label/frame count differences above this are an error for the clip


@dataclass
class Config:
    """Everything a run needs. Sections are stages; top-level fields are run-wide."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    cache_root: str = field(default="features", metadata=NOHASH)  # root of all stage outputs
    device: str = field(default="auto", metadata=NOHASH)  # auto | cpu | cuda | cuda:N
    seed: int = 0  # seeds every stage that draws random numbers
    log_level: str = field(default="INFO", metadata=NOHASH)
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    faces: FacesConfig = field(default_factory=FacesConfig)
    visual: VisualConfig = field(default_factory=VisualConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    unimodal: UnimodalConfig = field(default_factory=UnimodalConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
