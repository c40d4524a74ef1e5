"""A tiny stage-05 folder written directly: smooth labels, a valence feature, an arousal feature, noise."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d

from affect.train.aligned import FEATURES_JSON, AlignedFeature, write_clip


def smooth(rng: np.random.Generator, n: int, sigma: float = 4.0) -> np.ndarray:
    x = gaussian_filter1d(rng.standard_normal(n), sigma)
    return np.tanh(x / x.std() * 0.5)


def make_aligned(root: Path, clips: int = 6, steps: int = 96, seed: int = 0, no_audio: tuple[str, ...] = ("c01", "c05"),
                 substeps: int = 4, dim: int = 6) -> Path:
    """Clips c00.. (c00-c03 train, c04-c05 validation; folds alternate), features "face" (valence + noise),
    "voice" (arousal + noise, with sub-steps, masked on clips in ``no_audio``), "noise"."""
    rng = np.random.default_rng(seed)
    mix = {name: rng.standard_normal((2, dim)) for name in ("face", "voice", "noise")}
    for i in range(clips):
        clip = f"c{i:02d}"
        d = root / "clips" / clip
        d.mkdir(parents=True)
        va = np.stack([smooth(rng, steps), smooth(rng, steps)], 1).astype(np.float32)
        labels = va.copy()
        labels[5:9, 1] = np.nan  # arousal invalid, valence valid
        signal = {"face": np.stack([va[:, 0], 0 * va[:, 1]], 1), "voice": np.stack([0 * va[:, 0], va[:, 1]], 1),
                  "noise": np.zeros_like(va)}
        feats = {}
        for name, s in signal.items():
            v = s @ mix[name] + 0.1 * rng.standard_normal((steps, dim))
            mask = np.ones(steps, bool)
            if name == "face":
                mask[20:26] = False
            if name == "noise":
                v = rng.standard_normal((steps, dim))
            f = AlignedFeature(values=v.astype(np.float32), mask=mask)
            if name == "voice":
                if clip in no_audio:
                    f = AlignedFeature(values=np.zeros((steps, dim), np.float32), mask=np.zeros(steps, bool))
                f.sub_values = np.repeat(f.values, substeps, 0) + 0.05 * rng.standard_normal((steps * substeps, dim))
                f.sub_mask = np.repeat(f.mask, substeps)
            feats[name] = f
        info = {"hop": 0.25, "steps": steps, "fps": 4.0, "frames": steps, "video": f"v{i:02d}",
                "split": "train" if i < 4 else "validation", "fold": i % 2, "has_audio": clip not in no_audio}
        write_clip(d, info, labels, feats)
    (root / FEATURES_JSON).write_text(json.dumps({
        "face": {"modality": "visual", "dim": dim, "substeps": 0, "source": "test"},
        "voice": {"modality": "speech", "dim": dim, "substeps": substeps, "source": "test"},
        "noise": {"modality": "visual", "dim": dim, "substeps": 0, "source": "test"}}))
    return root
