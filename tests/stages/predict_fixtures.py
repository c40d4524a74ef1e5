"""Stages 05-07 faked to their contract (affect/train/runs.py, aligned.py), to test stages 08-09 alone.

The fake world: true valence/arousal are smooth functions of time (``truth``); a run predicts
them on each clip's grid plus seeded noise and a bias. The corpus is real (tiny videos run
through the real stage 00) so frame counts, fps, splits and test order are the real ones.
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from affect.cache import atomic
from affect.config import load_config
from affect.data.manifest import read_manifest
from affect.stages import RunOptions, Stage, StageReport
from affect.timegrid import Grid, frame_times

ANN = "annotations/VA_Estimation_Challenge"
#: clip -> (video, fps, video frames, label lines or None for a test clip, split folder, has audio)
CLIPS = {
    "v1_left": ("v1", 25, 50, 50, "Validation_Set", True),
    "v1_right": ("v1", 25, 50, 50, "Validation_Set", True),
    "v2": ("v2", 30, 60, 58, "Validation_Set", False),   # video 2 frames longer than its labels
    "tr": ("tr", 25, 40, 42, "Train_Set", False),        # labels 2 lines longer than the video
    "t2": ("t2", 15, 20, None, None, False),             # test list order: t2 before t1
    "t1": ("t1", 25, 30, None, None, True),
}
TEST_ORDER = ["t2", "t1"]
#: stage -> run name -> spec (noise/bias of predictions, a clip to make NaN, whether a checkpoint exists,
#: "record": more run.json fields such as train_clips / dev_clips)
RUNS: dict[str, dict[str, dict]] = {
    "unimodal": {"unimodal/feat-a": {"noise": 0.25, "bias": 0.0}, "unimodal/feat-b": {"noise": 0.5, "bias": 0.1}},
    "fusion": {"fusion@seed0": {"noise": 0.2, "bias": 0.0}, "fusion@seed1": {"noise": 0.2, "bias": 0.0}},
}


def truth(t: np.ndarray) -> np.ndarray:
    return np.stack([0.6 * np.sin(2 * np.pi * t / 2.0), 0.5 * np.cos(2 * np.pi * t / 1.5)], axis=1).astype(np.float32)


def build_corpus(root: Path, make_video, make_labels) -> Path:
    made = set()
    for clip, (video, fps, frames, lines, folder, audio) in CLIPS.items():
        if video not in made:
            make_video(root / "videos" / f"{video}.mp4", frames, fps=fps, size=(32, 24),
                       audio_seconds=frames / fps if audio else None)
            made.add(video)
        if lines:
            labels = truth(frame_times(lines, fps))
            labels[5:8] = -5  # invalid stretch
            make_labels(root / ANN / folder / f"{clip}.txt", labels)
    (root / ANN / "test_set.txt").write_text("\n".join(TEST_ORDER) + "\n")
    return root


class FakeAlign(Stage):
    name, number, requires = "align", 5, ("prepare",)

    def execute(self, out, opts: RunOptions) -> StageReport:
        manifest = read_manifest(self.upstream_output("prepare").path)
        for _, row in manifest.iterrows():
            grid = Grid(self.cfg.align.hop) if self.cfg.align.hop > 0 else Grid.for_video(row["fps"])
            steps = grid.num_steps(row["frames"] / row["fps"])
            atomic.write_json(out.clip_dir(row["clip"]) / "grid.json", {"hop": grid.hop, "steps": steps})
        out.mark_done({})
        return StageReport(self.name, out.path, "ran")


class FakeTraining(Stage):
    def execute(self, out, opts: RunOptions) -> StageReport:
        for i, (name, spec) in enumerate(RUNS[self.name].items()):
            run = out.path / "runs" / name.replace("/", "__")
            run.mkdir(parents=True)
            atomic.write_json(run / "run.json", {"name": name, **spec.get("record", {})})  # e.g. train_clips, dev_clips
            if spec.get("checkpoint", True):
                atomic.write_json(run / "checkpoint.json", {**spec, "seed": i})
        out.mark_done({})
        return StageReport(self.name, out.path, "ran")


class FakeUnimodal(FakeTraining):
    name, number, requires = "unimodal", 6, ("align",)


class FakeFusion(FakeTraining):
    name, number, requires = "fusion", 7, ("unimodal",)


class FakeBackend:
    """list_runs / predict_grid / grid as affect.train promises them."""

    def __init__(self):
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def list_runs(self, stage_dir: Path) -> dict[str, Path]:
        return {json.loads((p / "run.json").read_text())["name"]: p for p in sorted((stage_dir / "runs").iterdir())}

    def grid(self, align_dir: Path, clip: str) -> tuple[Grid, int]:
        path = align_dir / "clips" / clip / "grid.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: clip {clip!r} was not aligned")
        g = json.loads(path.read_text())
        return Grid(g["hop"]), g["steps"]

    def train_clips(self, run_dir: Path) -> set[str]:
        path = Path(run_dir) / "run.json"
        run = json.loads(path.read_text()) if path.is_file() else {}
        return set(run.get("train_clips", [])) | set(run.get("dev_clips", []))

    def dev_clips(self, run_dir: Path) -> set[str]:
        path = Path(run_dir) / "run.json"
        return set(json.loads(path.read_text()).get("dev_clips", [])) if path.is_file() else set()

    def predict_grid(self, run_dir: Path, align_dir: Path, clips, device: str = "cpu") -> dict[str, np.ndarray]:
        self.calls.append((Path(run_dir).name, tuple(clips)))
        ckpt = Path(run_dir) / "checkpoint.json"
        if not ckpt.is_file():
            raise FileNotFoundError(f"{run_dir}: no checkpoint.json in this run folder (did training finish?)")
        spec = json.loads(ckpt.read_text())
        out = {}
        for clip in clips:
            grid, steps = self.grid(align_dir, clip)
            rng = np.random.default_rng(spec["seed"] * 1000 + zlib.crc32(clip.encode()))
            pred = truth(grid.times(steps)) + spec["bias"] + spec["noise"] * rng.standard_normal((steps, 2))
            if spec.get("nan_clip") == clip:
                pred[3] = np.nan
            out[clip] = pred.astype(np.float32)
        return out


def install(monkeypatch, backend: FakeBackend | None = None) -> FakeBackend:
    """Make get_stage find the fakes (05-07) and stages 08-09, and give stage 08 the fake backend."""
    import affect.stages
    from affect.stages.evaluate import EvaluateStage
    from affect.stages.predict import PredictStage

    real = affect.stages.get_stage
    extra = {"align": FakeAlign, "unimodal": FakeUnimodal, "fusion": FakeFusion,
             "predict": PredictStage, "evaluate": EvaluateStage}
    monkeypatch.setattr(affect.stages, "get_stage", lambda name: extra.get(name) or real(name))
    backend = backend or FakeBackend()
    monkeypatch.setattr(PredictStage, "backend", lambda self: backend)
    return backend


def config(root: Path, cache: Path, *overrides: str):
    return load_config(overrides=[f"corpus.root={root}", f"cache_root={cache}", "prepare.folds=2", "device=cpu",
                                  *overrides])


def run(cfg, *names: str, **opts) -> list[StageReport]:
    import affect.stages

    return [affect.stages.get_stage(n)(cfg).run(RunOptions(**opts)) for n in names]
