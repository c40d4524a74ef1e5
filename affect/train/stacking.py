"""Stacking: per dimension, the weights that combine candidate models' predictions into one.

Stage 07's fused model is a stack over its candidates (the cross-modal attention network, the
same network on fewer sets where it was trained, and the unimodal regressors of the sets it
fuses), fitted on the selection split, one weight vector per dimension:

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

Beyond FOLDS (10) videos, "each video in turn" becomes each of FOLDS folds of videos, so that
auto's nested choice costs FOLDS² fits, not videos² (hundreds of Aff-Wild2 videos). Every fit
works on per-video sums of the candidates' and labels' products (``moments``), not on frames:
the CCC of any weighted mean over any set of videos follows from them, so a fit costs the same on
an hour of video as on a minute.

Since every candidate alone is a feasible blend, neither ``pick`` nor ``blend`` can score below
the best candidate on a dimension on the clips it was fitted on; ``pair`` trades that guarantee
for steadiness on clips it was not fitted on. Those clips also get weights
fitted without their own video (``held_out``; without its fold beyond FOLDS videos), which is
what they are predicted and scored with, so a validation score of the stack is never one its
weights have seen.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

log = logging.getLogger(__name__)
FIXED = ("pair", "blend", "pick", "off")
MODES = (*FIXED, "auto")


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


FOLDS = 10  # held-out fits are per video up to this many videos, then per fold of videos (see _folds)


def moments(p: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[list, np.ndarray]:
    """(group names, M [groups, C+2, C+2]): per group, the sums of x xᵀ with x = [1, p_1..p_C, y] over its
    frames. Every CCC a stack needs (any candidate, any weighted mean, any union of groups) follows from
    these sums, so a fit on a subset of videos costs the same whatever the frames."""
    x = np.column_stack([np.ones(len(y)), p, y])
    if not len(y):
        return [], np.zeros((0, x.shape[1], x.shape[1]))
    names, index = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(len(names) + 1))
    parts = [x[order[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]
    return names.tolist(), np.stack([part.T @ part for part in parts])


def _normalised(m: np.ndarray, c: int) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, float]:
    """From the sums ``m`` of ``c`` candidates: (candidate means b, label mean, E[p pᵀ], cov(p, y), var(y))."""
    n = m[0, 0]
    b, my = m[0, 1:c + 1] / n, m[0, c + 1] / n
    return b, my, m[1:c + 1, 1:c + 1] / n, m[1:c + 1, c + 1] / n - b * my, m[c + 1, c + 1] / n - my * my


def _ccc_m(m: np.ndarray, w: np.ndarray) -> float:
    """CCC (population moments, as affect.metrics.ccc) of the weighted mean ``p @ w`` against y, from the sums
    ``m`` (see ``moments``); -1 where it is undefined."""
    if m[0, 0] < 2:
        return -1.0
    b, my, s, g, vy = _normalised(m, len(w))
    mz = w @ b
    den = max(w @ s @ w - mz * mz, 0.0) + max(vy, 0.0) + (mz - my) ** 2
    value = 2.0 * (w @ g) / den if den > 0 else float("nan")
    return float(value) if np.isfinite(value) else -1.0


def _neg_ccc_and_grad(m: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """-CCC of ``p @ w`` and its gradient in w (for SLSQP: exact, so no finite differences)."""
    b, my, s, g, vy = _normalised(m, len(w))
    mz, cov = w @ b, w @ g
    den = (w @ s @ w - mz * mz) + vy + (mz - my) ** 2
    if not den > 0:
        return 1.0, np.zeros(len(w))
    grad_den = 2.0 * (s @ w) - 2.0 * my * b
    return -2.0 * cov / den, -2.0 * (g * den - cov * grad_den) / den ** 2


def _folds(names: list) -> list[list]:
    """The held-out folds of a stack's videos: each video alone up to FOLDS videos (leave one video out),
    else the videos, sorted, dealt into FOLDS folds (a fit per fold, not per video: leave-one-out on
    hundreds of videos, nested inside auto, would be quadratic in them)."""
    names = sorted(names)
    if len(names) <= FOLDS:
        return [[n] for n in names]
    return [names[i::FOLDS] for i in range(FOLDS)]


def _held_out_score(names: list, m: np.ndarray, mode: str) -> float:
    """CCC of the frames of every fold predicted with ``mode``'s weights fitted without that fold."""
    total, c = m.sum(0), m.shape[1] - 2
    acc = np.zeros((3, 3))  # sums of [1, z, y] [1, z, y]ᵀ over the held-out predictions z
    for fold in _folds(names):
        held = m[np.isin(names, fold)].sum(0)
        w = _fit_fixed(total - held, mode)
        t = np.zeros((c + 2, 3))
        t[0, 0], t[1:c + 1, 1], t[c + 1, 2] = 1.0, w, 1.0
        acc += t.T @ held @ t
    return _ccc_m(acc, np.ones(1))


def _choose_mode(names: list, m: np.ndarray) -> str:
    """The fixed mode with the best held-out score (ties: the first of FIXED); with under 2 videos, where
    nothing can be held out, ``pair`` (one choice per dimension, half the attention network: the steadiest)."""
    if len(names) < 2:
        return "pair"
    scores = [_held_out_score(names, m, mode) for mode in FIXED]
    return FIXED[int(np.argmax(scores))]


def fit_weights(p: np.ndarray, y: np.ndarray, mode: str, groups: np.ndarray | None = None) -> np.ndarray:
    """Weights [candidates] for one dimension (see the module's docstring for the modes; ``auto`` needs
    ``groups``, the video of each frame)."""
    names, m = moments(p, y, groups if groups is not None else np.zeros(len(y), dtype=object))
    return _fit(names, m, mode)[0]


def _fit(names: list, m: np.ndarray, mode: str) -> tuple[np.ndarray, str]:
    """(weights fitted on the groups of ``m``, the fixed mode that made them: ``auto``'s choice, or ``mode``)."""
    if mode not in MODES:
        raise ValueError(f"unknown stacking mode {mode!r}; modes: {', '.join(MODES)}")
    if mode == "auto":
        mode = _choose_mode(names, m)
    return _fit_fixed(m.sum(0), mode), mode


def _fit_fixed(m: np.ndarray, mode: str) -> np.ndarray:
    """One fixed mode's weights from the sums ``m`` of the frames fitted on."""
    c = m.shape[0] - 2
    w = np.zeros(c)
    if mode == "off" or m[0, 0] < 2:
        w[0] = 1.0
        return w
    eye = np.eye(c)
    singles = np.array([_ccc_m(m, eye[i]) for i in range(c)])
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
    for start in [eye[i] for i in range(c)] + [np.full(c, 1.0 / c)]:
        res = minimize(lambda v: _neg_ccc_and_grad(m, v), start, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * c,
                       constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1.0, "jac": lambda v: np.ones_like(v)}],
                       options={"maxiter": 200})
        v = np.clip(res.x, 0.0, None)
        v = v / v.sum() if v.sum() > 0 else start
        score = _ccc_m(m, v)
        if score > best_score + 1e-9:
            best, best_score = v, score
    return best


def fit_stack(preds: Mapping[str, Mapping[str, np.ndarray]], labels: Mapping[str, np.ndarray],
              video_of: Mapping[str, str], mode: str) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
    """(weights [2, candidates] fitted on every clip of ``labels``, {clip: weights fitted without its video
    (without its fold of videos beyond FOLDS videos)}, the fixed mode of each dimension's weights:
    ``auto``'s choices, or ``mode`` twice).

    ``preds``: candidate name -> {clip: [steps, 2]} over the clips of ``labels``; a single
    video gets no held-out weights (nothing else to fit on)."""
    clips = sorted(labels)
    per_dim = [moments(*frames(preds, labels, clips, d, video_of)) for d in (0, 1)]
    rows = [_fit(names, m, mode) for names, m in per_dim]
    weights, modes = np.stack([w for w, _ in rows]), [md for _, md in rows]
    held_out = {}
    videos = sorted({str(video_of[c]) for c in clips})  # as moments names them
    if len(videos) < 2:
        log.warning("stacking on one video (%s): its clips are scored with weights fitted on themselves", videos)
        return weights, held_out, modes
    for fold in _folds(videos):
        w = np.stack([_fit([n for n in names if n not in fold], m[~np.isin(names, fold)], mode)[0]
                      for names, m in per_dim])
        held_out.update({c: w for c in clips if str(video_of[c]) in fold})
    return weights, held_out, modes


def combine(parts: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """[steps, 2] float32 in [-1, 1]: per dimension d, sum_c weights[d, c] * parts[c][:, d]."""
    stacked = np.stack([np.asarray(p, np.float64) for p in parts], axis=-1)  # [steps, 2, C]
    out = (stacked * np.asarray(weights, np.float64)[None]).sum(-1)
    return np.clip(out, -1.0, 1.0).astype(np.float32)
