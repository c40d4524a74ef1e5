"""Stage 08 `predict`: every model of stages 06-07 on every frame of every clip, and submission files.

Per model (runs ``<model>@<member>`` averaged when ``predict.ensemble``): grid predictions
from ``predict_grid``, mapped onto each clip's frames (one row per manifest frame, also
frames without a face or speech, clipped to [-1, 1]), a smoothing window, per-clip CSVs and one
ABAW submission file per split. The window is chosen where the model's other choices were made:
on the runs' inner development set (training videos none of them fitted on, ``train.select=dev``),
so the validation split stays untouched; or, with ``select=validation``, on the validation labels,
and then the validation clips are also smoothed with windows chosen on the *other* validation
videos (``heldout.npz``), which stage 09 scores. A clip that every member trained on gets no
prediction (no in-sample validation), except the train split's clips when ``predict.splits`` asks
for them: those are predicted in sample and listed in ``info.json`` (``in_sample``), which stage 09
marks.
A model folder appears whole; a rerun resumes at the first unfinished model.

The test submission is complete or the stage fails: every clip of the test list, those
rejected at stage 00 included, gets one row per frame, or the stage stops naming each clip that
has none and why; `predict.missing` (zeros | mean) fills them instead (`affect.report.missing`),
listed in each model's `filled.csv`.
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
from affect.data.manifest import labels_path, load_frame_centres, load_labels, read_rejected
from affect.report.backend import RunsBackend, TrainBackend
from affect.report import missing as gaps
from affect.report.ensemble import average, group_runs, in_sample_clips, selection_average
from affect.report.frames import PredictionError, check_grid_predictions, speech_at_frames, to_video_frames
from affect.report.smoothing import KINDS, Smoothing, choose, held_out
from affect.report.store import HELD_OUT, MODELS, folder_name, save_arrays
from affect.report.submission import write_clip_csv, write_submission
from affect.stages.base import InputError, RunOptions, Stage, StageNotReady, StageReport
from affect.timegrid import Grid

log = logging.getLogger(__name__)

TRAINING_STAGES = ("unimodal", "fusion")


class PredictStage(Stage):
    name = "predict"
    number = 8
    version = 6  # 2: heldout.npz; 3: no in-sample validation, smoothing chosen on the inner development set
    # 4: complete test submissions (stage-00 rejects, predict.missing), filled.csv; 5: face/speech columns;
    # 6: time_s (and the speech column) at real frame centres where the frame rate varies
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
            log.warning("predict: models selected on validation (train.select=validation) choose their smoothing on "
                        "the validation split, which predict.splits leaves out: no smoothing for them (add validation "
                        "to predict.splits)")
        clips = self.clips(opts.limit)
        submission = self.submission_gaps(opts.limit)
        models = self.models()
        device = str(resolve_device(self.cfg.device))
        log.info("predict: %d models x %d clips (%s) on %s", len(models), len(clips),
                 ", ".join(self.cfg.predict.splits), device)
        grids = GridCache(self.backend(), self.upstream_output("align").path)
        val_labels = self.validation_labels() if self.cfg.predict.smooth else {}
        index: dict[str, str] = {}
        errors: list[dict[str, str]] = []
        ran = 0
        for model, members in tqdm(models.items(), desc="predict", unit="model", disable=None):
            folder = out.path / "models" / folder_name(model)
            if not self.model_done(folder, list(clips["clip"])):
                with atomic.atomic_dir(folder) as tmp:
                    self.predict_model(model, members, clips, grids, val_labels, tmp, device, submission)
                ran += 1
            index[model] = folder.relative_to(out.path).as_posix()
            errors += json.loads((folder / "info.json").read_text())["errors"]
        atomic.write_json(out.path / MODELS, index)
        out.save_errors(errors)
        for e in errors:
            log.error("predict: %s: %s: %s", e["clip"] or "-", e["file"], e["error"])
        self.refuse_incomplete(out.path, index)
        out.mark_done({"models": sorted(index), "clips": len(clips), "errors": len(errors)})
        return StageReport(self.name, out.path, "ran", ran, len(errors))

    @staticmethod
    def model_done(folder: Path, clips: list[str]) -> bool:
        """A model folder appears whole; it is reused only when made for the same clips (not a --limit run)."""
        info = folder / "info.json"
        return info.is_file() and json.loads(info.read_text()).get("requested") == clips

    def predict_model(self, model: str, members: dict[str, Path], clips: pd.DataFrame, grids: GridCache,
                      val_labels: dict[str, np.ndarray], folder: Path, device: str,
                      submission: SubmissionGaps | None = None) -> None:
        """Everything of one model into ``folder``: arrays, CSVs, submissions, smoothing, info."""
        errors: list[dict[str, str]] = []
        fps = dict(zip(clips["clip"], clips["fps"].astype(float)))
        frames = dict(zip(clips["clip"], clips["frames"].astype(int)))
        per_member, trained_on, dev_of = [], [], []
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
            dev_of.append(self.backend().dev_clips(run_dir))
        wanted = set(clips.loc[clips["split"] == "train", "clip"])  # asked for: predicted in sample where need be
        raw, problems = average(per_member, trained_on, wanted)  # a clip: the members that held it out
        in_sample = in_sample_clips(raw, trained_on)
        if in_sample:
            log.info("predict: %s: %d train-split clip(s) predicted in sample (marked, never scored as validation)",
                     model, len(in_sample))
        errors += [{"clip": c, "file": model, "error": why} for c, why in problems.items()
                   if not any(e["clip"] == c for e in errors)]
        selected_on = "dev" if all(dev_of) else "validation"
        validation = set(clips.loc[clips["split"] == "validation", "clip"])
        seen = sorted(validation & set().union(*map(set, dev_of)))
        if selected_on == "dev" and seen:  # train.cv: validation clips were other folds' inner dev clips
            log.warning("predict: %s: validation clip(s) %s were inner dev clips of other folds (train.cv): the ranking "
                        "and this model's choices saw their labels, so its validation figures are marked 'selected "
                        "on validation' (smoothing windows are then chosen on validation and scored held out)",
                        model, ", ".join(seen[:5]) + (" ..." if len(seen) > 5 else ""))
            selected_on = "validation"
        usable = self.usable_labels(model, raw, val_labels) if selected_on == "validation" else {}
        if selected_on == "dev" and self.cfg.predict.smooth:
            smoothing = self.choose_on_dev(model, members, dev_of, grids, device)
        else:
            smoothing = self.choose_smoothing(raw, usable, fps)
        final = {c: smoothing.apply(v, fps[c]) for c, v in raw.items()}
        save_arrays(folder / "raw.npz", raw)
        save_arrays(folder / "final.npz", final)
        if self.cfg.predict.smooth and selected_on == "validation":  # validation as unseen: windows from the other videos
            video_of = dict(zip(clips["clip"], clips["video"].astype(str)))
            save_arrays(folder / HELD_OUT, held_out(raw, usable, fps, video_of, self.cfg.predict.smooth_windows,
                                                    self.cfg.predict.smooth_kind))
        smoothing.save(folder / "smoothing.json")
        for clip, values in final.items():
            centres = load_frame_centres(self.upstream_output("prepare").path, clip, frames[clip], fps[clip])
            write_clip_csv(folder / "frames" / f"{clip}.csv", values, fps[clip],
                           self.presence(clip, frames[clip], fps[clip], centres), centres)
        open_gaps, filled = [], []
        for split in self.cfg.predict.splits:
            order = list(clips.loc[clips["split"] == split, "clip"])
            preds = final
            if split == "test" and submission is not None:
                order, preds, filled_here, open_here = submission.complete(order, final, clips)
                filled += [submission.table(filled_here)] if filled_here else []
                open_gaps += [{"clip": g.clip, "reason": g.reason, "frames": g.frames} for g in open_here]
            missing = write_submission(folder / f"submission_{split}.csv", order, preds)
            errors += [{"clip": c, "file": f"{model} submission_{split}.csv",
                        "error": "no predictions: this clip's rows are missing from the submission"} for c in missing]
        if filled:
            with atomic.atomic_path(folder / gaps.FILLED) as tmp:
                pd.concat(filled, ignore_index=True).to_csv(tmp, index=False)
        atomic.write_json(folder / "info.json", {
            "model": model, "members": {r: str(p) for r, p in members.items()}, "clips": len(final),
            "requested": list(clips["clip"]), "selected_on": selected_on, "in_sample": in_sample, "errors": errors,
            "open_gaps": open_gaps})
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

    def presence(self, clip: str, frames: int, fps: float, centres: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per video frame: a face crop there (stage 01's `found`), speech at its centre (stage 03's activity;
        ``centres``: real frame centres where the rate varies). Both stages are upstream of stage 05, so they
        are in this stage's fingerprint already. A column whose source cannot be read is left out of the
        clip's CSV (logged)."""
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
                out["speech"] = speech_at_frames(activity.values, activity.times, activity.mask, frames, fps, centres)
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

    def choose_on_dev(self, model: str, members: dict[str, Path], dev_of: list[set[str]], grids: GridCache,
                      device: str) -> Smoothing:
        """The smoothing window chosen on the members' inner development sets: each dev clip predicted by the
        runs whose dev set it is in (none fitted on it), on its video frames, against its frame labels."""
        prepare = self.upstream_output("prepare").path
        rows = self.manifest.set_index("clip")
        wanted = sorted(c for c in set().union(*dev_of) if c in rows.index and labels_path(prepare, c).is_file())
        per_member = []
        for (run, run_dir), dev in zip(members.items(), dev_of):
            got, run_errors = self.predict_run(run, run_dir, [c for c in wanted if c in dev], grids, device)
            for e in run_errors:
                log.warning("predict: %s: inner dev clip %s left out of the smoothing choice: %s", model, e["clip"], e["error"])
            mapped = {}
            for clip, values in got.items():
                try:
                    mapped[clip] = to_video_frames(clip, values, grids.get(clip)[0], int(rows.at[clip, "frames"]),
                                                   float(rows.at[clip, "fps"]))
                except PredictionError as e:
                    log.warning("predict: %s: inner dev clip %s left out of the smoothing choice: %s", model, clip, e.message)
            per_member.append(mapped)
        preds, problems = selection_average(per_member, [d & set(wanted) for d in dev_of])
        for clip, why in problems.items():
            log.warning("predict: %s: inner dev clip %s left out of the smoothing choice: %s", model, clip, why)
        labels = {c: load_labels(prepare, c) for c in preds}
        usable = {c: y for c, y in labels.items() if len(y) == len(preds[c])}
        fps = {c: float(rows.at[c, "fps"]) for c in usable}
        cfg = self.cfg.predict
        return choose(preds, usable, fps, cfg.smooth_windows, cfg.smooth_kind, what="inner development set")

    def choose_smoothing(self, raw: dict[str, np.ndarray], usable: dict[str, np.ndarray],
                         fps: dict[str, float]) -> Smoothing:
        cfg = self.cfg.predict
        if not cfg.smooth:
            return Smoothing(kind=cfg.smooth_kind, chosen_on="disabled (predict.smooth=false)")
        return choose(raw, usable, fps, cfg.smooth_windows, cfg.smooth_kind, what="validation")

    # complete submissions --------------------------------------------------------------------
    def submission_gaps(self, limit: int | None) -> SubmissionGaps | None:
        """What the test submission must hold beyond the predicted clips; fails at once (before any
        prediction) when a test clip rejected at stage 00 can be neither predicted nor filled."""
        policy = self.cfg.predict.missing
        gaps.check_policy(policy)
        if "test" not in self.cfg.predict.splits:
            return None
        rejected = read_rejected(self.upstream_output("prepare").path)
        if limit is not None:  # a --limit run predicts some clips only: its submission is partial anyway
            rejected = rejected.iloc[:0]
        found = gaps.rejected_gaps(rejected, "test")
        refused = [g for g in found.values() if policy == "fail" or g.frames is None]
        if refused:
            raise InputError(f"predict: {gaps.describe_open(refused, 'test', policy)}")
        mean = self.mean_training_label() if policy == "mean" else None
        if found:
            log.warning("predict: %d test clip(s) rejected at stage 00 are filled with %s (predict.missing=%s): %s",
                        len(found), "zeros" if policy == "zeros" else f"the mean training label {mean.round(4).tolist()}",
                        policy, ", ".join(found))
        return SubmissionGaps(policy, rejected, found, mean)

    def mean_training_label(self) -> np.ndarray:
        """Mean (valence, arousal) over every valid frame of the training split (predict.missing=mean)."""
        prepare = self.upstream_output("prepare").path
        rows = self.manifest[(self.manifest["split"] == "train") & self.manifest["label_path"].notna()]
        return gaps.mean_label({c: load_labels(prepare, c) for c in rows["clip"] if labels_path(prepare, c).is_file()})

    def refuse_incomplete(self, out: Path, index: dict[str, str]) -> None:
        """Fail, naming the clips, when some model's test submission lacks a clip of the test list."""
        lacking = {}
        for model, folder in index.items():
            for g in json.loads((out / folder / "info.json").read_text()).get("open_gaps", []):
                lacking.setdefault(g["clip"], (g["reason"], g["frames"], []))[2].append(model)
        if lacking:
            found = [gaps.Gap(c, f"{why} (models: {', '.join(models)})", frames)
                     for c, (why, frames, models) in lacking.items()]
            raise InputError(f"predict: {gaps.describe_open(found, 'test', self.cfg.predict.missing)}")


class SubmissionGaps:
    """The test list's clips that stage 00 rejected, and how the submission treats clips without predictions."""

    def __init__(self, policy: str, rejected: pd.DataFrame, found: dict[str, gaps.Gap], mean: np.ndarray | None):
        self.policy, self.rejected, self.found, self.mean = policy, rejected, found, mean

    def complete(self, order: list[str], final: dict[str, np.ndarray], clips: pd.DataFrame
                 ) -> tuple[list[str], dict[str, np.ndarray], list[gaps.Gap], list[gaps.Gap]]:
        """(the test list's order, predictions with filled clips, the filled gaps, the gaps left open)."""
        frames = dict(zip(clips["clip"], clips["frames"].astype(int)))
        known = {**{c: gaps.Gap(c, "no predictions (see errors.csv)", frames[c]) for c in order}, **self.found}
        order = gaps.insert_rejected(order, self.rejected, "test")
        preds, filled, open_ = gaps.complete(order, final, known, self.policy, self.mean)
        for g in filled:
            log.warning("predict: test clip %s (%d frames) filled (predict.missing=%s): %s", g.clip, g.frames,
                        self.policy, g.reason)
        return order, preds, filled, open_

    def table(self, filled: list[gaps.Gap]) -> pd.DataFrame:
        return gaps.filled_table("test", filled, self.policy, self.mean)


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

