"""Feature sets derived from a synthetic corpus's latent truth (for tests and the benchmark).

Where real backbones have no weights (this machine), these stand in for stages 02/04: each set
is a fixed random linear mix of the generator's own cues (latent + smoothed cue noise of the
std in `affect.synth.corpus.CUE_NOISE`) plus white noise per row, written in the feature-stage
format (`affect.cache.series`, `backbones.json`):

    face-synth   visual, per video frame, valence cue strong, arousal weak; masked where the
                 generator hid the face (synth_record.json `no_face_frames`)
    voice-synth  speech, 50 Hz, arousal cue strong, valence weak; absent for videos without audio
    noise-synth  visual, per video frame, pure noise (a feature set that must rank last)
"""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np

from affect.cache.atomic import write_json
from affect.cache.series import Series, save_series
from affect.synth.corpus import CUE_NOISE
from affect.synth.trajectory import smooth_noise

DIM = 16
SPEECH_RATE = 50.0
SETS = {"face-synth": ("visual", ("face_valence", "face_arousal")),
        "voice-synth": ("speech", ("voice_valence", "voice_arousal")),
        "noise-synth": ("visual", ())}


def _mix(name: str, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, zlib.crc32(name.encode())]).standard_normal((2, DIM))


def read_latent(corpus: Path, clip: str) -> np.ndarray:
    """[video frames, 2] latent (valence, arousal) from latent/<clip>.csv."""
    return np.loadtxt(Path(corpus) / "latent" / f"{clip}.csv", delimiter=",", skiprows=1, ndmin=2)


def clip_features(corpus: Path, record_clip: dict, name: str, seed: int = 0, white: float = 0.3) -> Series | None:
    """One clip's feature set ``name`` (None: a speech set for a video without audio)."""
    modality, cues = SETS[name]
    clip, fps = record_clip["clip"], float(record_clip["fps"])
    if modality == "speech" and not record_clip["has_audio"]:
        return None
    latent = read_latent(corpus, clip)
    rng = np.random.default_rng([seed, zlib.crc32(f"{clip}/{name}".encode())])
    if modality == "speech":
        times = (np.arange(int(len(latent) / fps * SPEECH_RATE)) + 0.5) / SPEECH_RATE
        frame_t = (np.arange(len(latent)) + 0.5) / fps
        latent = np.stack([np.interp(times, frame_t, latent[:, d]) for d in range(2)], 1)
        rate = SPEECH_RATE
    else:
        times, rate = (np.arange(len(latent)) + 0.5) / fps, fps
    n = len(times)
    mask = np.ones(n, bool)
    if cues:
        cue = np.stack([latent[:, d] + smooth_noise(rng, n, rate, 1.0, CUE_NOISE[c]) for d, c in enumerate(cues)], 1)
        values = cue @ _mix(name, seed) + white * rng.standard_normal((n, DIM))
        if modality == "visual":
            for start, stop in record_clip["no_face_frames"]:
                mask[start:stop] = False
    else:
        values = rng.standard_normal((n, DIM))
    return Series(values=values.astype(np.float32), times=times, mask=mask, rate=rate)


def write_feature_sets(corpus: Path, out: Path, modality: str, clips: list[str] | None = None, seed: int = 0) -> list[str]:
    """Write every set of ``modality`` for the corpus's clips into a feature-stage folder ``out``."""
    record = json.loads((Path(corpus) / "synth_record.json").read_text())
    names = [n for n, (m, _) in SETS.items() if m == modality]
    for rc in record["clips"]:
        if clips is not None and rc["clip"] not in clips:
            continue
        for name in names:
            series = clip_features(corpus, rc, name, seed)
            if series is not None:
                d = Path(out) / "clips" / rc["clip"]
                d.mkdir(parents=True, exist_ok=True)
                save_series(d / f"{name}.npz", series)
    write_json(Path(out) / "backbones.json", {
        n: {"name": n, "modality": modality, "dim": DIM, "weights": "synthetic",
            **({"rate": SPEECH_RATE} if modality == "speech" else {})} for n in names})
    return names
