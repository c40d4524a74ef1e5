"""The ceiling row of a synthetic corpus: its generator's latent truth scored like a model.

`affect synth` writes `latent/<clip>.csv` (the noise-free valence/arousal per video frame)
beside the labels, which are that latent plus annotator noise. Its score on a split is a
reference the models of that split are read against (the share of it they reach), not a strict
upper bound: CCC rewards matching the labels' scale, so a model can beat it, e.g. a latent
stretched towards the noisier labels' variance scores higher. Real corpora have no latent
folder and get no reference row.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

LATENT_DIR = "latent"
CEILING = "ceiling (generator's latent)"


def latent_predictions(corpus_root: str | Path, labels: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    """Per labelled clip, the latent on the label's frames (last value held past the video's end).

    None when the corpus has no latent truth for every one of these clips.
    """
    folder = Path(corpus_root) / LATENT_DIR
    if not labels or not folder.is_dir():
        return None
    out: dict[str, np.ndarray] = {}
    for clip, label in labels.items():
        path = folder / f"{clip}.csv"
        if not path.is_file():
            log.info("evaluate: no latent truth for clip %s (%s): no ceiling row", clip, path)
            return None
        latent = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2).astype(np.float32)
        n = len(label)
        if len(latent) < n:
            latent = np.concatenate([latent, np.repeat(latent[-1:], n - len(latent), axis=0)])
        out[clip] = latent[:n]
    return out
