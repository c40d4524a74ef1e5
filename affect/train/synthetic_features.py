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


def cue_features(cues: dict[str, np.ndarray], fps: float, name: str, rng: np.random.Generator,
                 no_face: np.ndarray | None = None, seed: int = 0, white: float = 0.3) -> Series:
    """Feature set ``name`` from per-frame cue series (``cues[<cue name>]`` [frames]) of one clip.

    Visual sets: one row per video frame, masked where ``no_face``; speech sets: 50 Hz rows
    (cues interpolated). Each row: the fixed random mix of the set's two cues + white noise.
    """
    modality, names = SETS[name]
    n_frames = len(next(iter(cues.values())))
    frame_t = (np.arange(n_frames) + 0.5) / fps
    if modality == "speech":
        times, rate = (np.arange(int(n_frames / fps * SPEECH_RATE)) + 0.5) / SPEECH_RATE, SPEECH_RATE
    else:
        times, rate = frame_t, fps
    mask = np.ones(len(times), bool)
    if names:
        cue = np.stack([np.interp(times, frame_t, cues[c]) for c in names], 1)
        values = cue @ _mix(name, seed) + white * rng.standard_normal((len(times), DIM))
    else:
        values = rng.standard_normal((len(times), DIM))
    if modality == "visual" and no_face is not None:
        mask &= ~no_face
    return Series(values=values.astype(np.float32), times=times, mask=mask, rate=rate)


def latent_cues(latent: np.ndarray, fps: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The generator's cues rebuilt from a latent [frames, 2]: latent + smoothed noise of CUE_NOISE's std."""
    return {c: latent[:, 0 if "valence" in c else 1] + smooth_noise(rng, len(latent), fps, 1.0, std)
            for c, std in CUE_NOISE.items()}


def clip_features(corpus: Path, record_clip: dict, name: str, seed: int = 0) -> Series | None:
    """One clip's feature set ``name`` from latent/<clip>.csv (None: a speech set for a video without audio)."""
    clip, fps = record_clip["clip"], float(record_clip["fps"])
    if SETS[name][0] == "speech" and not record_clip["has_audio"]:
        return None
    latent = read_latent(corpus, clip)
    rng = np.random.default_rng([seed, zlib.crc32(f"{clip}/{name}".encode())])
    no_face = np.zeros(len(latent), bool)
    for start, stop in record_clip["no_face_frames"]:
        no_face[start:stop] = True
    return cue_features(latent_cues(latent, fps, rng), fps, name, rng, no_face, seed)


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
