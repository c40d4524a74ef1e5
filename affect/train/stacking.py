"""Stacking: per dimension, the weights that combine candidate models' predictions into one.

Stage 07's fused model is a stack over its candidates (the cross-modal attention network and
the unimodal regressors of the sets it fuses), fitted on the selection split, one weight vector
per dimension:

    pair    the mean of the first candidate (the attention network) and the other candidate with
            the best CCC on that dimension (0.5 each): one discrete choice per dimension, so
            little to overfit on a small selection split
    pick    the candidate with the best CCC on that dimension (weight 1, others 0)
    blend   non-negative weights summing to 1 that maximise the CCC of the weighted mean
            (SLSQP from every candidate alone and from the uniform mean; the best optimum)
    off     the first candidate alone (the cross-modal attention network)
    auto    (stage 07's default) per dimension, the one of those four whose weights, fitted
            without each video in turn, predict that video best (leave one video out over the
            selection clips); where a video is itself held out, the choice is made again without
            it (nested), so its held-out weights never saw it. No fixed mode was best on every
            generated corpus (docs/fusion.md)

Since every candidate alone is a feasible blend, neither ``pick`` nor ``blend`` can score below
the best candidate on a dimension on the clips it was fitted on; ``pair`` trades that guarantee
for steadiness on clips it was not fitted on. Those clips also get weights
fitted without their own video (``held_out``), which is what they are predicted and scored
with, so a validation score of the stack is never one its weights have seen.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import numpy as np

from affect.metrics.ccc import ccc

log = logging.getLogger(__name__)
FIXED = ("pair", "blend", "pick", "off")
MODES = (*FIXED, "auto")


def _ccc(x: np.ndarray, y: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = ccc(x, y)
    return value if np.isfinite(value) else -1.0


def frames(preds: Mapping[str, Mapping[str, np.ndarray]], labels: Mapping[str, np.ndarray], clips: list[str],
           dim: int, video_of: Mapping[str, str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P [N, candidates], y [N], video [N]): the valid frames of ``clips`` on dimension ``dim``, concatenated,
    with each frame's video (``video_of``, else its clip)."""
    cols, ys, groups = [], [], []
    for clip in clips:
        y = np.asarray(labels[clip][:, dim], np.float64)
        ok = ~np.isnan(y)
        cols.append(np.stack([np.asarray(p[clip][:, dim], np.float64)[ok] for p in preds.values()], axis=1))
        ys.append(y[ok])
        groups.append(np.full(int(ok.sum()), (video_of or {}).get(clip, clip), dtype=object))
    if not ys:
        return np.zeros((0, len(preds))), np.zeros(0), np.zeros(0, dtype=object)
    return np.concatenate(cols), np.concatenate(ys), np.concatenate(groups)


def held_out_score(p: np.ndarray, y: np.ndarray, groups: np.ndarray, mode: str) -> float:
    """CCC of the frames of every video predicted with ``mode``'s weights fitted without that video."""
    out = np.empty_like(y)
    for g in np.unique(groups):
        inside = groups == g
        out[inside] = np.clip(p[inside] @ fit_weights(p[~inside], y[~inside], mode), -1.0, 1.0)
    return _ccc(out, y)


def choose_mode(p: np.ndarray, y: np.ndarray, groups: np.ndarray) -> str:
    """The fixed mode with the best ``held_out_score`` (ties: the first of FIXED); with under 2 videos, where
    nothing can be held out, ``pair`` (one choice per dimension, half the attention network: the steadiest)."""
    if len(np.unique(groups)) < 2:
        return "pair"
    scores = [held_out_score(p, y, groups, mode) for mode in FIXED]
    return FIXED[int(np.argmax(scores))]


def fit_weights(p: np.ndarray, y: np.ndarray, mode: str, groups: np.ndarray | None = None) -> np.ndarray:
    """Weights [candidates] for one dimension (see the module's docstring for the modes; ``auto`` needs
    ``groups``, the video of each frame)."""
    return _fit(p, y, mode, groups)[0]


def _fit(p: np.ndarray, y: np.ndarray, mode: str, groups: np.ndarray | None) -> tuple[np.ndarray, str]:
    """(``fit_weights``, the fixed mode that made them: ``auto``'s choice, or ``mode`` itself)."""
    if mode not in MODES:
        raise ValueError(f"unknown stacking mode {mode!r}; modes: {', '.join(MODES)}")
    if mode == "auto":
        mode = choose_mode(p, y, groups if groups is not None else np.zeros(len(y)))
    return _fit_fixed(p, y, mode), mode


def _fit_fixed(p: np.ndarray, y: np.ndarray, mode: str) -> np.ndarray:
    c = p.shape[1]
    w = np.zeros(c)
    if mode == "off" or len(y) < 2:
        w[0] = 1.0
        return w
    singles = np.array([_ccc(p[:, i], y) for i in range(c)])
    if mode == "pair":
        w[0] = 1.0 if c == 1 else 0.5
        if c > 1:
            w[1 + int(np.argmax(singles[1:]))] = 0.5
        return w
    w[int(np.argmax(singles))] = 1.0
    if mode == "pick" or c == 1:
        return w
    from scipy.optimize import minimize

    best, best_score = w, float(singles.max())
    starts = [np.eye(c)[i] for i in range(c)] + [np.full(c, 1.0 / c)]
    for start in starts:
        res = minimize(lambda v: -_ccc(p @ v, y), start, method="SLSQP", bounds=[(0.0, 1.0)] * c,
                       constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1.0}], options={"maxiter": 200})
        v = np.clip(res.x, 0.0, None)
        v = v / v.sum() if v.sum() > 0 else start
        score = _ccc(p @ v, y)
        if score > best_score + 1e-9:
            best, best_score = v, score
    return best


def fit_stack(preds: Mapping[str, Mapping[str, np.ndarray]], labels: Mapping[str, np.ndarray],
              video_of: Mapping[str, str], mode: str) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """(weights [2, candidates] fitted on every clip of ``labels``, {clip: weights fitted without its video},
    the fixed mode of each dimension's weights: ``auto``'s choices, or ``mode`` twice).

    ``preds``: candidate name -> {clip: [steps, 2]} over the clips of ``labels``; a single
    video gets no held-out weights (nothing else to fit on)."""
    clips = sorted(labels)

    def fit(subset: list[str]) -> tuple[np.ndarray, list[str]]:
        rows = [_fit(p, y, mode, g) for p, y, g in (frames(preds, labels, subset, d, video_of) for d in (0, 1))]
        return np.stack([w for w, _ in rows]), [m for _, m in rows]

    weights, modes = fit(clips)
    held_out = {}
    videos = sorted({video_of[c] for c in clips})
    if len(videos) < 2:
        log.warning("stacking on one video (%s): its clips are scored with weights fitted on themselves", videos)
    else:
        for video in videos:
            w = fit([c for c in clips if video_of[c] != video])[0]
            held_out.update({c: w for c in clips if video_of[c] == video})
    return weights, held_out, modes


def combine(parts: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """[steps, 2] float32 in [-1, 1]: per dimension d, sum_c weights[d, c] * parts[c][:, d]."""
    stacked = np.stack([np.asarray(p, np.float64) for p in parts], axis=-1)  # [steps, 2, C]
    out = (stacked * np.asarray(weights, np.float64)[None]).sum(-1)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
