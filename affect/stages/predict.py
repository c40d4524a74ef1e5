"""Stage 08 `predict`: every model of stages 06-07 on every frame of every clip, and submission files.

Per model (runs ``<model>@<member>`` averaged when ``predict.ensemble``): grid predictions
from ``predict_grid``, mapped onto each clip's frames (one row per manifest frame, also
frames without a face or speech, clipped to [-1, 1]), a smoothing window chosen on the
validation split's labels only, per-clip CSVs and one ABAW submission file per split; and the
validation clips smoothed with windows chosen on the *other* validation videos (``heldout.npz``),
which stage 09 scores, so that a smoothed validation score is not one the window has seen.
A model folder appears whole; a rerun resumes at the first unfinished model.
"""
from __future__ import annotations

import json
import logging
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir
from affect.cache import atomic
from affect.data.manifest import load_labels, labels_path
from affect.report.backend import RunsBackend, TrainBackend
from affect.report.ensemble import average, group_runs
from affect.report.frames import PredictionError, check_grid_predictions, speech_at_frames, to_video_frames
from affect.report.smoothing import KINDS, Smoothing, choose, held_out
from affect.report.store import HELD_OUT, MODELS, folder_name, save_arrays
from affect.report.submission import write_clip_csv, write_submission
from affect.stages.base import RunOptions, Stage, StageNotReady, StageReport
from affect.timegrid import Grid

log = logging.getLogger(__name__)

TRAINING_STAGES = ("unimodal", "fusion")


class PredictStage(Stage):
    name = "predict"
    number = 8
    version = 3  # 2: heldout.npz, the validation clips smoothed with windows chosen on the other videos; 3: face/speech columns
    requires = ("prepare", "align", *TRAINING_STAGES)

    def backend(self) -> RunsBackend:
        return TrainBackend()

    # inputs ------------------------------------------------------------------------------
    def clips(self, limit: int | None = None) -> pd.DataFrame:
        """The manifest rows to predict: those of `predict.splits` among the run's clips (--limit: the
        same balanced first N as every stage)."""
        splits = self.cfg.predict.splits
        unknown = set(splits) - {"train", "validation", "test"}
        if unknown:
            raise ValueError(f"predict.splits: unknown split(s) {sorted(unknown)}; use train, validation, test")
        rows = self.selected_clips(limit)
        return rows[rows["split"].isin(splits)]

    def covers_all(self, limit: int | None) -> bool:
        return len(self.selected_clips(limit)) == len(self.manifest)

    def models(self) -> dict[str, dict[str, Path]]:
        backend = self.backend()
        runs: dict[str, Path] = {}
        for stage in TRAINING_STAGES:
            runs.update(backend.list_runs(self.upstream_output(stage).path))
        wanted = self.cfg.predict.models
        if wanted:
            known = set(runs) | {n.split("@", 1)[0] for n in runs}
            missing = [m for m in wanted if m not in known]
            if missing:
                raise ValueError(f"predict.models: no trained run named {missing}; runs: {sorted(runs)}")
            runs = {n: p for n, p in runs.items() if n in wanted or n.split("@", 1)[0] in wanted}
        models = group_runs(runs, self.cfg.predict.ensemble)
        if not models:
            raise RuntimeError("predict: stages 06 (unimodal) and 07 (fusion) list no trained runs: nothing to predict")
        return models

    def validation_labels(self) -> dict[str, np.ndarray]:
        """Labels of the validation split only: the one thing smoothing may be chosen on."""
        prepare = self.upstream_output("prepare").path
        rows = self.manifest[(self.manifest["split"] == "validation") & self.manifest["label_path"].notna()]
        return {c: load_labels(prepare, c) for c in rows["clip"] if labels_path(prepare, c).is_file()}

    def plan(self) -> str:
        models = self.models()
        return f"{len(models)} models ({', '.join(models)}) x {len(self.clips())} clips"

    # running -----------------------------------------------------------------------------
    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        from affect.device import resolve_device

        if self.cfg.predict.smooth_kind not in KINDS:
            raise ValueError(f"predict.smooth_kind must be one of {KINDS}, got {self.cfg.predict.smooth_kind!r}")
        if self.cfg.predict.smooth and "validation" not in self.cfg.predict.splits:
            log.warning("predict: smoothing is chosen on the validation split, which predict.splits leaves out: "
                        "no smoothing (add validation to predict.splits)")
        clips = self.clips(opts.limit)
        models = self.models()
        device = str(resolve_device(self.cfg.device))
        log.info("predict: %d models x %d clips (%s) on %s", len(models), len(clips),
                 ", ".join(self.cfg.predict.splits), device)
        grids = GridCache(self.backend(), self.upstream_output("align").path)
        val_labels = self.validation_labels() if self.cfg.predict.smooth else {}
        index: dict[str, str] = {}
        errors: list[dict[str, str]] = []
        ran = 0
        for model, members in tqdm(models.items(), desc="predict", unit="model"):
            folder = out.path / "models" / folder_name(model)
            if not self.model_done(folder, list(clips["clip"])):
                with atomic.atomic_dir(folder) as tmp:
                    self.predict_model(model, members, clips, grids, val_labels, tmp, device)
                ran += 1
            index[model] = folder.relative_to(out.path).as_posix()
            errors += json.loads((folder / "info.json").read_text())["errors"]
        atomic.write_json(out.path / MODELS, index)
        out.save_errors(errors)
        for e in errors:
            log.error("predict: %s: %s: %s", e["clip"] or "-", e["file"], e["error"])
        out.mark_done({"models": sorted(index), "clips": len(clips), "errors": len(errors)})
        return StageReport(self.name, out.path, "ran", ran, len(errors))

    @staticmethod
    def model_done(folder: Path, clips: list[str]) -> bool:
        """A model folder appears whole; it is reused only when made for the same clips (not a --limit run)."""
        info = folder / "info.json"
        return info.is_file() and json.loads(info.read_text()).get("requested") == clips

    def predict_model(self, model: str, members: dict[str, Path], clips: pd.DataFrame, grids: GridCache,
                      val_labels: dict[str, np.ndarray], folder: Path, device: str) -> None:
        """Everything of one model into ``folder``: arrays, CSVs, submissions, smoothing, info."""
        errors: list[dict[str, str]] = []
        fps = dict(zip(clips["clip"], clips["fps"].astype(float)))
        frames = dict(zip(clips["clip"], clips["frames"].astype(int)))
        per_member, trained_on = [], []
        for run, run_dir in members.items():
            grid_preds, run_errors = self.predict_run(run, run_dir, list(clips["clip"]), grids, device)
            errors += run_errors
            mapped = {}
            for clip, values in grid_preds.items():
                try:
                    mapped[clip] = to_video_frames(clip, values, grids.get(clip)[0], frames[clip], fps[clip])
                except PredictionError as e:
                    errors.append({"clip": clip, "file": str(run_dir), "error": f"run {run!r}: {e.message}"})
            per_member.append(mapped)
            trained_on.append(self.backend().train_clips(run_dir))
        raw, problems = average(per_member, trained_on)  # a clip: the members that held it out (cv folds)
        errors += [{"clip": c, "file": model, "error": why} for c, why in problems.items()
                   if not any(e["clip"] == c for e in errors)]
        usable = self.usable_labels(model, raw, val_labels)
        smoothing = self.choose_smoothing(raw, usable, fps)
        final = {c: smoothing.apply(v, fps[c]) for c, v in raw.items()}
        save_arrays(folder / "raw.npz", raw)
        save_arrays(folder / "final.npz", final)
        if self.cfg.predict.smooth:  # the validation clips as unseen ones: windows chosen on the other videos
            video_of = dict(zip(clips["clip"], clips["video"].astype(str)))
            save_arrays(folder / HELD_OUT, held_out(raw, usable, fps, video_of, self.cfg.predict.smooth_windows,
                                                    self.cfg.predict.smooth_kind))
        smoothing.save(folder / "smoothing.json")
        for clip, values in final.items():
            write_clip_csv(folder / "frames" / f"{clip}.csv", values, fps[clip], self.presence(clip, frames[clip], fps[clip]))
        for split in self.cfg.predict.splits:
            order = list(clips.loc[clips["split"] == split, "clip"])
            missing = write_submission(folder / f"submission_{split}.csv", order, final)
            errors += [{"clip": c, "file": f"{model} submission_{split}.csv",
                        "error": "no predictions: this clip's rows are missing from the submission"} for c in missing]
        atomic.write_json(folder / "info.json", {
            "model": model, "members": {r: str(p) for r, p in members.items()}, "clips": len(final),
            "requested": list(clips["clip"]), "errors": errors})
        log.info("predict: %s: %d clips predicted, %d problems", model, len(final), len(errors))

    def predict_run(self, run: str, run_dir: Path, clips: list[str], grids: GridCache,
                    device: str) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
        """One run's checked grid predictions; problems as error rows (whole run, or per clip)."""
        if not Path(run_dir).is_dir():
            return {}, [{"clip": "", "file": str(run_dir), "error": f"run {run!r}: run folder does not exist"}]
        backend = self.backend()
        try:
            got = backend.predict_grid(run_dir, grids.align_dir, clips, device)
        except Exception as e:  # find out whether the run or some clips are at fault
            log.warning("predict: run %s failed on all clips at once (%s); retrying clip by clip", run, e)
            got, failures = {}, {}
            for clip in clips:
                try:
                    got.update(backend.predict_grid(run_dir, grids.align_dir, [clip], device))
                except Exception as ce:
                    failures[clip] = f"{type(ce).__name__}: {ce}"
            if len(failures) == len(clips):
                why = "no usable checkpoint in the run folder" if isinstance(e, FileNotFoundError) else "failed"
                return {}, [{"clip": "", "file": str(run_dir),
                             "error": f"run {run!r}: {why}, no clip predicted: {type(e).__name__}: {e}"}]
            errors = [{"clip": c, "file": str(run_dir), "error": f"run {run!r}: {m}"} for c, m in failures.items()]
        else:
            errors = []
        checked = {}
        for clip in clips:
            if clip not in got:
                if not any(e["clip"] == clip for e in errors):
                    errors.append({"clip": clip, "file": str(run_dir), "error": f"run {run!r} returned no predictions"})
                continue
            try:
                checked[clip] = check_grid_predictions(clip, got[clip], grids.get(clip)[1])
            except (PredictionError, FileNotFoundError, KeyError, ValueError) as e:
                errors.append({"clip": clip, "file": str(run_dir), "error": f"run {run!r}: {e}"})
        return checked, errors

    def presence(self, clip: str, frames: int, fps: float) -> dict[str, np.ndarray]:
        """Per video frame: a face crop there (stage 01's `found`), speech at its centre (stage 03's activity).
        Both stages are upstream of stage 05, so they are in this stage's fingerprint already. A column whose
        source cannot be read is left out of the clip's CSV (logged)."""
        from affect.audio.store import load_speech_mask

        faces, audio = self.presence_sources
        out: dict[str, np.ndarray] = {}
        try:
            if faces is not None:
                with np.load(faces.clip_dir(clip) / "faces.npz") as z:
                    found = np.asarray(z["found"], bool)[:frames]
                out["face"] = np.pad(found, (0, frames - len(found)))
            if audio is not None:
                activity = load_speech_mask(audio, clip)
                out["speech"] = speech_at_frames(activity.values, activity.times, activity.mask, frames, fps)
        except (OSError, KeyError, ValueError) as e:
            log.warning("predict: %s: face/speech columns incomplete (%s)", clip, e)
        return out

    @cached_property
    def presence_sources(self) -> tuple[StageDir | None, Path | None]:
        """Stage 01's and stage 03's folders (None, said once, where a stage is not there)."""
        found = []
        for name in ("faces", "audio"):
            try:
                found.append(self.upstream_output(name))
            except StageNotReady as e:
                log.warning("predict: no %s column in frames/<clip>.csv: %s", "face" if name == "faces" else "speech", e)
                found.append(None)
        return found[0], None if found[1] is None else found[1].path

    @staticmethod
    def usable_labels(model: str, raw: dict[str, np.ndarray], val_labels: dict[str, np.ndarray]) -> dict:
        """The validation labels that smoothing may be chosen on: clips predicted frame for frame."""
        usable = {c: y for c, y in val_labels.items() if c in raw and len(y) == len(raw[c])}
        for c in set(val_labels) & set(raw) - set(usable):
            log.warning("predict: %s: clip %s left out of the smoothing choice: %d predicted frames, %d labels",
                        model, c, len(raw[c]), len(val_labels[c]))
        return usable

    def choose_smoothing(self, raw: dict[str, np.ndarray], usable: dict[str, np.ndarray],
                         fps: dict[str, float]) -> Smoothing:
        cfg = self.cfg.predict
        if not cfg.smooth:
            return Smoothing(kind=cfg.smooth_kind, chosen_on="disabled (predict.smooth=false)")
        return choose(raw, usable, fps, cfg.smooth_windows, cfg.smooth_kind, what="validation")


class GridCache:
    """Each clip's aligned grid (hop, steps), read once and shared by every model."""

    def __init__(self, backend: RunsBackend, align_dir: Path):
        self.backend = backend
        self.align_dir = align_dir
        self._grids: dict[str, tuple[Grid, int]] = {}

    def get(self, clip: str) -> tuple[Grid, int]:
        if clip not in self._grids:
            self._grids[clip] = self.backend.grid(self.align_dir, clip)
        return self._grids[clip]

