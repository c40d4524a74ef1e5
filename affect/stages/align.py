"""Stage 05 `align`: every feature set and the labels on each clip's time grid, ready to train.

Feature sets are discovered in the output folders of the feature stages (02 `visual`, 04
`speech`: their `backbones.json`), selected by `align.features` (empty = all). Per clip, each
set goes onto the grid through `affect.timegrid` (pooled when denser, interpolated when
sparser) with its mask (no face / invalid row; for speech sets also no speech: `align.speech_mask`
= `voice`, stage 03's activity; `subject`, that activity AND the subject's mouth moving, from
stage 01's crops (`affect.face.mouth`); `none`); both masks are kept per clip as
`speech_voice.npy` / `speech_subject.npy` (bool [steps]); labels are resampled one dimension at a time. Speech sets
are also kept at k sub-steps per grid step for the learned strided-conv front end
(`align.substeps`). Layout: `affect.train.aligned`. A clip whose video has a variable frame rate
(stage 00's `frame_times/<clip>.npy`) has its speech sets and speech activity, which run on real
time from the first frame, moved onto the frames' index clock (`affect.timegrid.to_frame_clock`).
"""
from __future__ import annotations

import json
import logging
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affect.cache import StageDir
from affect.cache.atomic import write_json
from affect.stages.base import ClipError
from affect.stages.clip_stage import ClipStage

log = logging.getLogger(__name__)
FEATURE_STAGES = ("visual", "speech")


def _registered(name: str) -> bool:
    from affect.stages import STAGES

    return name in STAGES


class AlignStage(ClipStage):
    name = "align"
    number = 5
    version = 3  # 2: speech on the frames' index clock for variable-frame-rate videos
    # 3: align.speech_mask voice | subject | none; both masks stored per clip

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        ups = [s for s in FEATURE_STAGES if _registered(s)]
        if self.cfg.align.speech_mask != "none" and _registered("audio"):
            ups.append("audio")
        if self.cfg.align.speech_mask == "subject" and _registered("faces"):
            ups.append("faces")
        return ("prepare", *ups)

    def extra_inputs(self) -> dict[str, str]:
        """Fingerprints of `align.external` feature folders (their backbones.json and file sizes/times)."""
        from affect.cache.fingerprint import digest

        out = {}
        for folder in self.cfg.align.external:
            root = Path(folder)
            if not (root / "backbones.json").is_file():
                raise FileNotFoundError(f"align.external: {root / 'backbones.json'} missing")
            files = sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns)
                           for p in root.glob("clips/*/*.npz"))
            out[f"external:{root.resolve()}"] = digest([(root / "backbones.json").read_text(), files])
        return out

    def variant(self) -> str:
        return f"hop{self.cfg.align.hop:g}" if self.cfg.align.hop else "fps"

    row_ignores = ()  # the labels, the split and the fold are written with the clip

    def clip_inputs(self, clip: pd.Series) -> dict[str, str]:
        """The clip's labels (stage 00's array), hashed."""
        import hashlib

        from affect.data.manifest import labels_path

        path = labels_path(self.upstream_output("prepare").path, clip["clip"])
        return {"labels": hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""}

    # feature sets -------------------------------------------------------------------------
    @cached_property
    def sources(self) -> dict[str, dict[str, Any]]:
        """name -> {dir, modality, dim, rate, source} of the selected feature sets."""
        from affect.train.aligned import check_features

        found: dict[str, dict[str, Any]] = {}
        folders = [(s, self.upstream_output(s).path) for s in self.requires if s in FEATURE_STAGES]
        folders += [("external", Path(p)) for p in self.cfg.align.external]
        for stage, up in folders:
            path = up / "backbones.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path} missing: stage {stage} lists its feature sets there")
            for name, desc in json.loads(path.read_text()).items():
                found[name] = {"dir": up, "modality": desc.get("modality", "visual" if stage == "visual" else "speech"),
                               "dim": int(desc["dim"]), "rate": float(desc.get("rate") or 0.0), "source": stage}
        names = check_features(list(self.cfg.align.features), found)
        if not names:
            raise ValueError("align: no feature sets found (stages visual/speech wrote none, no align.external)")
        return {n: found[n] for n in names}

    def substeps(self, name: str) -> int:
        """Sub-steps per grid step kept for a speech set: round(rate x hop) (hop 0: 1/30 s), 0 if not denser."""
        from affect.timegrid import Grid
        from affect.train.gridding import substeps_for

        src = self.sources[name]
        if not self.cfg.align.substeps or src["modality"] != "speech" or src["rate"] <= 0:
            return 0
        return substeps_for(src["rate"], Grid(self.cfg.align.hop or 1 / 30))

    def setup(self) -> None:
        self.sources  # unknown names fail here, before any clip
        self.prepare_dir = self.upstream_output("prepare").path
        self.audio_dir = self.upstream_output("audio").path if "audio" in self.requires else None
        self.faces = self.upstream_output("faces") if "faces" in self.requires else None
        self.landmarks = None
        if self.faces is not None:
            from affect.backbones.registry import create_backbone

            self.landmarks = create_backbone("landmarks68")  # dlib's model ships in a package

    # per clip -----------------------------------------------------------------------------
    def _on_frame_clock(self, clip: pd.Series, series):
        """A real-time series (speech) on the frames' index clock when the video's frame rate varies."""
        from dataclasses import replace

        from affect.data.manifest import frame_times_path
        from affect.timegrid import to_frame_clock

        path = frame_times_path(self.prepare_dir, clip["clip"])
        if not path.is_file():
            return series
        return replace(series, times=to_frame_clock(series.times, np.load(path), float(clip["fps"])))

    def _labels(self, clip: pd.Series, frames: int) -> np.ndarray:
        from affect.data.manifest import labels_path

        path = labels_path(self.prepare_dir, clip["clip"])
        return np.load(path) if path.is_file() else np.full((frames, 2), np.nan, np.float32)

    def _speech_activity(self, clip: pd.Series, grid, steps: int) -> dict[str, np.ndarray]:
        """Grid masks of speech: `voice` (stage 03's activity) and, with speech_mask=subject, `subject`
        (voice AND the subject's mouth moving: `affect.face.mouth`)."""
        if self.audio_dir is None or not bool(clip["has_audio"]):
            return {}
        from affect.audio.store import load_speech_mask
        from affect.timegrid import to_grid

        s = self._on_frame_clock(clip, load_speech_mask(self.audio_dir, clip["clip"]))
        windows = {"voice": s.values[:, 0]}
        if self.faces is not None:
            from affect.face.mouth import mouth_movement, mouth_opening, subject_activity

            fps, frames = float(clip["fps"]), int(clip["frames"])
            cfg = self.cfg.align
            opening = mouth_opening(self.faces.clip_dir(clip["clip"]), frames, self.landmarks)
            movement = mouth_movement(opening, fps, cfg.mouth_window_s)
            windows["subject"] = subject_activity(s.values[:, 0], s.times, movement, fps, cfg.mouth_threshold)
        out = {}
        for name, w in windows.items():
            activity, ok = to_grid(w[:, None], s.times, s.mask, grid, steps)
            out[name] = ok & (activity[:, 0] >= 0.5)
        return out

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        from affect.cache.series import load_series
        from affect.train.aligned import write_clip
        from affect.train.gridding import align_labels, align_series, check_coverage, clip_grid, empty_feature

        name_of = clip["clip"]
        fps, frames = float(clip["fps"]), int(clip["frames"])
        grid, steps = clip_grid(self.cfg.align.hop, fps, frames)
        labels = self._labels(clip, frames)
        if len(labels) != frames:
            raise ClipError(self.prepare_dir / "labels", f"{len(labels)} label rows for {frames} frames")
        masks = self._speech_activity(clip, grid, steps)
        speech = masks.get(self.cfg.align.speech_mask)
        feats, summary = {}, {"steps": steps, "hop": grid.hop}
        for kind, m in masks.items():
            summary[f"speech_{kind}"] = round(float(m.mean()), 4)
        for name, src in self.sources.items():
            k = self.substeps(name)
            path = src["dir"] / "clips" / name_of / f"{name}.npz"
            if not path.is_file():
                if src["modality"] == "speech" and not bool(clip["has_audio"]):
                    feats[name] = empty_feature(steps, src["dim"], k)
                    summary[f"{name}_valid"] = 0.0
                    continue
                raise ClipError(path, f"feature set {name!r} missing for this clip")
            series = load_series(path)
            if src["modality"] == "speech":
                series = self._on_frame_clock(clip, series)
            if series.dim != src["dim"]:
                raise ClipError(path, f"dim {series.dim}, backbones.json says {src['dim']}")
            try:
                has_rows = check_coverage(series, frames / fps, name_of, name)
            except ValueError as e:
                raise ClipError(path, str(e)) from None
            if not has_rows:
                log.warning("%s: %s has no rows (the clip lasts %.2f s, shorter than its window): masked",
                            name_of, name, frames / fps)
                feats[name] = empty_feature(steps, src["dim"], k)
                summary[f"{name}_valid"] = 0.0
                continue
            extra = speech if src["modality"] == "speech" else None
            feats[name] = align_series(series, grid, steps, k, extra)
            summary[f"{name}_valid"] = round(float(feats[name].mask.mean()), 4)
        y = align_labels(labels, fps, grid, steps)
        summary.update(valence_valid=int((~np.isnan(y[:, 0])).sum()), arousal_valid=int((~np.isnan(y[:, 1])).sum()))
        fold = clip.get("fold")
        info = {"clip": name_of, "hop": grid.hop, "steps": steps, "fps": fps, "frames": frames,
                "video": clip["video"], "split": clip["split"],
                "fold": None if fold is None or pd.isna(fold) else int(fold), "has_audio": bool(clip["has_audio"])}
        write_clip(out, info, y, feats)
        for kind, m in masks.items():  # both speech masks kept beside the features (speech_voice.npy, ...)
            np.save(out / f"speech_{kind}.npy", m)
        return summary

    def finish(self, out: StageDir) -> None:
        super().finish(out)
        write_json(out.path / "features.json", {
            n: {"modality": s["modality"], "dim": s["dim"], "substeps": self.substeps(n), "source": s["source"],
                "rate": s["rate"]} for n, s in self.sources.items()})
