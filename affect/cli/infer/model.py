"""`affect.load_model(bundle)`: a checked bundle that predicts valence/arousal for any video.

    model = affect.load_model("fusion.bundle")
    frames = model.predict_video("interview.mp4")              # DataFrame: frame, time_s, valence, arousal, face
    frames = model.predict_video("two_people.mp4", side="left")

Opening refuses (BundleError, one line) a bundle that is newer than this affect, truncated or
tampered with, or whose feature sets cannot be made here exactly as the model saw them
(affect.bundle.features). A video runs stages 00-05 with the bundle's config on a one-video
corpus (affect.cli.infer.corpus: cached, so a video given again is not recomputed), then the
members predict and the bundle's smoothing is applied (affect.bundle.predict).
"""
from __future__ import annotations

import copy
import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from affect.bundle.features import check_described, check_reproducible
from affect.bundle.format import Bundle, BundleError, open_bundle
from affect.config import Config, load_config
from affect.cli.infer.corpus import VideoCorpus, VideoFailed, make_corpus, point_config, run_feature_stages
from affect.stages.base import Stage

log = logging.getLogger(__name__)
SIDES = ("left", "right")


@dataclass
class VideoResult:
    video: Path
    side: str | None
    table: pd.DataFrame  # frame, time_s, valence, arousal, face
    fps: float
    has_audio: bool
    corpus: VideoCorpus
    faces_file: Path  # stage 01's faces.npz of this clip (found, box, landmarks per frame)
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage (and "predict")
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of this process per stage (and "predict")
    notes: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.table)

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last (its centre + half a period of the mean rate)."""
        if self.fps <= 0 or not self.frames:
            return 0.0
        return float(self.table["time_s"].iloc[-1]) + 0.5 / self.fps


class InferenceModel:
    """A bundle ready to predict videos: `predict_video(path) -> DataFrame`."""

    def __init__(self, bundle: str | Path | Bundle, cache_root: str | Path = "features", device: str = "auto"):
        from affect.device import resolve_device

        self.bundle = bundle if isinstance(bundle, Bundle) else open_bundle(bundle)
        try:
            self._config = load_config([self.bundle.config_path])
        except Exception as e:  # a key this affect does not know, a bad value
            raise BundleError(f"{self.bundle.config_path}: this affect cannot read the bundle's config ({e})") from None
        if self._config.faces.source != "detect":
            raise BundleError(f"{self.bundle.source}: the model was trained on a corpus's own face crops "
                              f"(faces.source={self._config.faces.source}); new videos have none")
        self.weights_paths = check_reproducible(self.bundle.features)
        self.cache_root = Path(cache_root)
        self.device = str(resolve_device(device))
        self.command = shlex.join(["affect", *sys.argv[1:]]) if sys.argv else "affect infer"
        self.backbones: dict = {}  # built once, kept across this model's videos (affect.backbones.keep_backbones)

    # the stages' config -------------------------------------------------------------------
    def sets(self, source: str) -> list[str]:
        return [n for n, r in self.bundle.features.items() if r["source"] == source]

    def config(self, corpus: VideoCorpus) -> Config:
        """The bundle's config, reading `corpus`, computing only the feature sets the model reads."""
        cfg = point_config(copy.deepcopy(self._config), corpus)
        cfg.device = self.device
        visual, speech = self.sets("visual"), self.sets("speech")
        if visual:  # backbones are seeded one by one: a subset gives the same features
            cfg.visual.backbones = [b for b in cfg.visual.backbones if b in visual]
        if speech:
            cfg.speech.backbones = [b for b in cfg.speech.backbones if b in speech]
        cfg.align.features = list(self.bundle.features)
        for name, path in self.weights_paths.items():  # found elsewhere than the training machine's path
            if name in visual:
                cfg.visual.weights_for[name] = path
            elif len([n for n in speech if self.bundle.features[n].get("weights_sha256")]) == 1:
                cfg.speech.weights = path
            else:
                raise BundleError(f"feature set {name!r}: weights found at {path}, but speech.weights names one place "
                                  f"for all speech sets: put each in checkpoints/<backbone>/")
        return cfg

    # one video ----------------------------------------------------------------------------
    def _after_stage(self, stage: Stage, corpus: VideoCorpus) -> None:
        import json

        if stage.name in ("visual", "speech"):
            path = stage.output.path / "backbones.json"
            check_described(self.bundle.features, json.loads(path.read_text()), path)
        elif stage.name == "prepare":
            row = stage.manifest.set_index("clip").loc[corpus.clip]
            if not bool(row["has_audio"]) and not self.sets("visual"):
                raise VideoFailed(f"{corpus.video}: no audio track, and the model reads only the voice")
        elif stage.name == "faces" and self.sets("visual"):
            if not self._face(stage, corpus.clip).any():
                who = f" ({corpus.side} person)" if corpus.side else ""
                raise VideoFailed(f"{corpus.video}: no face found in any frame{who}: the model reads the face")

    @staticmethod
    def _face(faces: Stage, clip: str) -> np.ndarray:
        from affect.face.extract import FACES_NAME

        with np.load(faces.output.clip_dir(clip) / FACES_NAME) as z:
            return z["found"].astype(bool)

    def run_video(self, path: str | Path, side: str | None = None) -> VideoResult:
        """Stages 00-05 and the prediction for one video; raises VideoFailed (one line) for bad input."""
        from affect.bundle.outputs import video_table
        from affect.backbones.registry import keep_backbones
        from affect.bundle.predict import predict_aligned
        from affect.data.manifest import load_frame_centres
        from affect.report.frames import PredictionError

        path = Path(path)
        if side not in (None, *SIDES):
            raise ValueError(f"side must be left, right or None, got {side!r}")
        if not path.is_file():
            raise VideoFailed(f"{path}: no such file")
        corpus = make_corpus(path, side, self.cache_root)
        cfg = self.config(corpus)
        with keep_backbones(self.backbones):
            align = run_feature_stages(cfg, corpus, self.command, after=lambda s: self._after_stage(s, corpus))
        row = align.manifest.set_index("clip").loc[corpus.clip]
        fps, frames = float(row["fps"]), int(row["frames"])
        start, cpu = time.perf_counter(), time.process_time()
        try:
            pred = predict_aligned(self.bundle, align.output.path, corpus.clip, frames, fps, self.device)
        except PredictionError as e:
            raise VideoFailed(f"{path}: {e.message}") from None
        corpus.timings["predict"] = time.perf_counter() - start
        corpus.cpu["predict"] = time.process_time() - cpu
        faces = align.upstream("faces")
        face = self._face(faces, corpus.clip)
        centres = load_frame_centres(align.upstream_output("prepare").path, corpus.clip, frames, fps)
        table = video_table(pred.final, fps, face, centres)
        result = VideoResult(path, side, table, fps, bool(row["has_audio"]), corpus,
                             faces.output.clip_dir(corpus.clip) / "faces.npz", dict(corpus.timings),
                             dict(corpus.cpu))
        if not result.has_audio and self.sets("speech"):
            result.notes.append("no audio track: the voice's feature sets are masked, predictions from the face")
            log.warning("%s: %s", path, result.notes[-1])
        return result

    def predict_video(self, path: str | Path, side: str | None = None) -> pd.DataFrame:
        """Per frame: frame (1-based), time_s, valence, arousal (smoothed as the bundle says), face (0/1)."""
        return self.run_video(path, side).table


def load_model(bundle: str | Path, cache_root: str | Path = "features", device: str = "auto") -> InferenceModel:
    """A bundle written by `affect export`, checked and ready: `load_model(b).predict_video(path)`."""
    return InferenceModel(bundle, cache_root=cache_root, device=device)
