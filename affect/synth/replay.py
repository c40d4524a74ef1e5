"""A generated corpus's cue series, replayed from its record, and the cue reference built on them.

Every cue of `affect synth` (corpus.py's `CUE_NOISE`: the face's colour, shape and head motion,
the voice's pitch, loudness and tilt) is the latent plus its own noise, or noise alone where the
cue layout silences it. Models only see those cues through pixels and waveforms, so the label
ceiling (the latent itself, affect/report/reference.py) is more than any model can reach: the
cue noise is in the video too.

`replay` draws the series again from the record's seed, clip count and length, without
rendering (the cues are the first draws of each video's streams). `cue_reference` reads them
exactly and maps them to valence and arousal with the best linear filter on the training clips:
a bank of each cue smoothed over 0, 0.5, 1, 2 and 4 s plus its clip mean, least squares per
dimension with the ridge penalty that predicts the training clips best held out (up to 5 folds
of clips), rescaled to the training labels' mean and spread (the scale that CCC rewards). It
reads every cue on every frame, seen or not (a face out of the frame, a video without sound),
so it is a reference for how much of the cue signal a pipeline recovers, not a strict bound: a
nonlinear reader could do a little better.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from affect.metrics.ccc import ccc
from affect.synth.corpus import CUE_NOISE, RECORD, VERSION, ClipData, clip_series
from affect.synth.plan import plan_corpus
from affect.synth.variants import DEFAULT

SCALES_S = (0.5, 1.0, 2.0, 4.0)  # smoothing of the filter bank (Gaussian sigma, seconds), beside the raw cue
RIDGES = (1e-3, 1e-2, 1e-1, 1.0)  # ridge penalties tried, relative to the frames fitted on
FOLDS = 5  # held-out folds of training clips that choose the penalty


def replay(root: str | Path) -> dict[str, tuple[float, ClipData]]:
    """{clip: (fps, its ClipData)} for every clip of the synthetic corpus at ``root``; ValueError
    where there is no record or it was written by another generator version."""
    path = Path(root) / RECORD
    if not path.is_file():
        raise ValueError(f"{root}: no {RECORD}, not a corpus written by `affect synth`")
    record = json.loads(path.read_text())
    if record.get("version") != VERSION:
        raise ValueError(f"{path}: written by generator version {record.get('version')}, this is version {VERSION}: "
                         f"its cues cannot be replayed")
    cues = (record.get("cues") or {}).get("name", DEFAULT)
    out = {}
    for vp in plan_corpus(record["clips_requested"], record["seconds"], record["seed"]):
        rng = np.random.default_rng([record["seed"], 1, vp.index])
        shape_rng = np.random.default_rng([record["seed"], 2, vp.index])
        for cp in vp.clips:
            out[cp.clip] = (float(vp.fps), clip_series(vp, cp, rng, shape_rng, cues))
    return out


def _bank(cues: Mapping[str, np.ndarray], fps: float, frames: int) -> np.ndarray:
    """[frames, cues x (2 + scales)]: each cue raw, smoothed at SCALES_S and its clip mean, held past
    the video's end when the label file is longer."""
    x = np.stack([np.asarray(cues[name], np.float64) for name in CUE_NOISE], axis=1)
    cols = [x] + [gaussian_filter1d(x, s * fps, axis=0, mode="nearest") for s in SCALES_S]
    cols.append(np.repeat(x.mean(0, keepdims=True), len(x), axis=0))
    bank = np.concatenate(cols, axis=1)
    if len(bank) < frames:
        bank = np.concatenate([bank, np.repeat(bank[-1:], frames - len(bank), axis=0)])
    return bank[:frames]


class _Filter:
    """Least squares (ridge ``penalty``) from a filter bank to one dimension, rescaled to the labels' spread."""

    def __init__(self, x: np.ndarray, y: np.ndarray, penalty: float):
        self.mean, self.std = x.mean(0), x.std(0) + 1e-9
        z = self._design(x)
        ridge = penalty * len(y) * np.eye(z.shape[1])
        ridge[0, 0] = 0.0
        self.w = np.linalg.solve(z.T @ z + ridge, z.T @ y)
        fitted = z @ self.w
        self.centre, self.scale, self.target = fitted.mean(), y.std() / max(fitted.std(), 1e-9), y.mean()

    def _design(self, x: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(x)), (x - self.mean) / self.std])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip((self._design(x) @ self.w - self.centre) * self.scale + self.target, -1.0, 1.0)


def _valid(banks: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], clips: list[str], d: int):
    x = np.concatenate([banks[c] for c in clips])
    y = np.concatenate([np.asarray(labels[c][:, d], np.float64) for c in clips])
    ok = ~np.isnan(y)
    return x[ok], y[ok]


def _penalty(banks: Mapping[str, np.ndarray], train: Mapping[str, np.ndarray], d: int) -> float:
    """The RIDGES penalty whose filters, fitted without each fold of training clips, predict it best."""
    clips = sorted(train)
    folds = [clips[i::FOLDS] for i in range(min(FOLDS, len(clips)))]
    if len(folds) < 2:
        return RIDGES[-1]
    scores = []
    for penalty in RIDGES:
        preds, truth = [], []
        for fold in folds:
            x, y = _valid(banks, train, [c for c in clips if c not in fold], d)
            xh, yh = _valid(banks, train, fold, d)
            if len(y) < 2 or not len(yh):
                continue
            preds.append(_Filter(x, y, penalty)(xh))
            truth.append(yh)
        scores.append(ccc(np.concatenate(preds), np.concatenate(truth)) if preds else -1.0)
    return RIDGES[int(np.nanargmax(scores))]


def cue_reference(root: str | Path, train: Mapping[str, np.ndarray],
                  scored: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{clip: [frames, 2] float32} for the clips of ``scored``: the exact cues through the linear
    filter fitted on the clips of ``train`` (clip -> labels [frames, 2], NaN = invalid)."""
    series = replay(root)
    unknown = sorted(set(train) - set(series)) + sorted(set(scored) - set(series))
    if unknown:
        raise ValueError(f"{root}: clips {unknown} are not in its record")
    banks = {c: _bank(series[c][1].cues, series[c][0], len(y)) for c, y in {**train, **scored}.items()}
    out = {c: np.zeros((len(y), 2), np.float32) for c, y in scored.items()}
    for d in range(2):
        x, y = _valid(banks, train, sorted(train), d)
        if len(y) < 2:
            raise ValueError(f"{root}: fewer than 2 valid training frames on dimension {d}")
        reader = _Filter(x, y, _penalty(banks, train, d))
        for c in scored:
            out[c][:, d] = reader(banks[c])
    return out
