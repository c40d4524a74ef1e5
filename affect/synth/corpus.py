"""Generate a synthetic Aff-Wild2-style corpus: videos with audio, VA labels, latent truth, a record.

Layout under OUT (Aff-Wild2 as distributed)::

    videos/<video>.mp4                                   H.264 + AAC (one video without audio)
    annotations/VA_Estimation_Challenge/Train_Set/<clip>.txt
    annotations/VA_Estimation_Challenge/Validation_Set/<clip>.txt
    annotations/VA_Estimation_Challenge/test_set.txt     test clip names, one a line
    cropped_aligned/<clip>/00001.jpg ...                 only with cropped_aligned=True
    latent/<clip>.csv                                    latent truth per video frame
    synth_record.json                                    the generator's record, written last

Each clip has a latent valence/arousal trajectory; the label file is latent plus annotator noise.
Valence shows mostly in the face: its shape (mouth corners up in a smile, down in a frown) and
its colour (brightness, tint); weakly in the voice (spectral tilt). Arousal shows mostly in the
voice (pitch, loudness), weakly in the face (brows raised and eyes opened, saturation, head-motion
speed). Each cue carries its own noise (`CUE_NOISE`: face_* colour, shape_* expression warp,
motion_* head motion, voice_*), so neither modality, nor one cue, alone recovers the latent. See
`plan.py` for which video carries which awkward case, and `generate_corpus` for the record.
"""
from __future__ import annotations

import json
import logging
import shutil
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from affect.cache.atomic import atomic_dir, atomic_path, write_text
from affect.metrics.ccc import ccc
from affect.synth.background import camera_noise, make_background, make_occluder
from affect.synth.face_render import (TRANSITION_S, Face, HeadMotion, aligned_crop, eye_positions, face_colour,
                                      face_shape, make_face, paint_face, plan_motion, visible_box)
from affect.synth.mux import AVWriter
from affect.synth.plan import ClipPlan, VideoPlan, plan_corpus
from affect.synth.trajectory import annotate, latent_va, pulse, smooth_noise
from affect.synth.variants import DEFAULT, cue_layout
from affect.synth.voice import SYNTH_RATE, Speaker, mix, resample, room_noise, synth_voice

log = logging.getLogger(__name__)

VERSION = 2  # 2: the face's shape carries cues (shape_valence, shape_arousal)
ANNOTATIONS = Path("annotations") / "VA_Estimation_Challenge"
SPLIT_DIRS = {"train": "Train_Set", "validation": "Validation_Set"}
RECORD = "synth_record.json"
MARKER = ".affect_synth"  # written first: the folder is a (maybe unfinished) synthetic corpus
OUR_DIRS = ("videos", "annotations", "latent", "cropped_aligned")
# Cue noise (std of smoothed Gaussian noise added to the latent before it drives a cue).
CUE_NOISE = {"face_valence": 0.2, "face_arousal": 0.55, "motion_arousal": 0.5,
             "voice_arousal": 0.2, "voice_valence": 0.6, "shape_valence": 0.25, "shape_arousal": 0.5}
SPRITE_HEIGHT = {1: 150.0, 2: 130.0}  # on-screen head height (px) with one or two people
SPEAKERS = (Speaker(f0_mid=170.0, formant_scale=1.0, tilt=1.0), Speaker(f0_mid=195.0, formant_scale=1.12, tilt=0.95))
PERSON_COLOUR = ((1.0, 1.0, 1.0), (1.03, 0.95, 1.03))  # the second person: a touch magenta


@dataclass
class ClipData:
    """One clip's generated series: latent and labels as written (parsed back), and its cues."""

    plan: ClipPlan
    latent: np.ndarray  # [video frames, 2] as written to latent/<clip>.csv
    labels: np.ndarray | None  # [label frames, 2], NaN where -5; None for test clips
    label_text: str | None
    latent_text: str
    invalid: list[list[int]]
    cues: dict[str, np.ndarray]  # per video frame
    face: Face | None = None
    motion: HeadMotion | None = None
    present: np.ndarray | None = None  # per video frame, face visible


def _fmt(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0.0 else s


def _ranges(mask: np.ndarray) -> list[list[int]]:
    """0-based half-open [start, stop) runs of True."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]


def clip_series(vp: VideoPlan, cp: ClipPlan, rng: np.random.Generator, shape_rng: np.random.Generator,
            cues: str = DEFAULT) -> ClipData:
    """One clip's latent, labels and cue series, drawn from ``rng`` (and ``shape_rng`` for the shape cues).

    It is the first consumer of its video's streams, clip after clip, so replaying it with the
    same seeds gives the same series without rendering (affect/synth/replay.py)."""
    fps = float(vp.fps)
    n_video = vp.frames
    n_label = n_video + cp.count_diff if cp.count_diff is not None else None
    n = max(n_video, n_label or 0)
    latent = latent_va(rng, n, fps)
    labels = annotate(rng, latent, fps)
    latent_lines = [f"{_fmt(v, 5)},{_fmt(a, 5)}" for v, a in latent[:n_video]]
    latent_text = "valence,arousal\n" + "\n".join(latent_lines) + "\n"
    latent_read = np.array([[float(x) for x in line.split(",")] for line in latent_lines])
    invalid_mask = np.zeros(n_label or 0, bool)
    label_text = label_read = None
    if n_label is not None:
        if cp.invalid_s is not None:
            start = int(round(cp.invalid_s[0] * fps))
            invalid_mask[start:start + max(1, int(round(cp.invalid_s[1] * fps)))] = True
        lines = ["-5,-5" if bad else f"{_fmt(v, 4)},{_fmt(a, 4)}"
                 for (v, a), bad in zip(labels[:n_label], invalid_mask)]
        label_text = "valence,arousal\n" + "\n".join(lines) + "\n"
        label_read = np.array([[float(x) for x in line.split(",")] for line in lines])
        label_read[invalid_mask] = np.nan
    truth = latent[:n_video]
    # the shape cues (added in version 2) draw from their own stream: the other cues, the labels,
    # the motion and the voice are those of version 1
    if cues == DEFAULT:
        series = {name: truth[:, 0 if "valence" in name else 1]
                  + smooth_noise(shape_rng if name.startswith("shape_") else rng, n_video, fps, 1.0, std)
                  for name, std in CUE_NOISE.items()}
    else:  # same draws in the same order; the layout decides which cues follow the latent (variants.py)
        noise = {name: smooth_noise(shape_rng if name.startswith("shape_") else rng, n_video, fps, 1.0, std)
                 for name, std in CUE_NOISE.items()}
        series = cue_layout(cues).apply({n: truth[:, 0 if "valence" in n else 1] for n in noise}, noise, CUE_NOISE)
    return ClipData(plan=cp, latent=latent_read, labels=label_read, label_text=label_text, latent_text=latent_text,
                    invalid=_ranges(invalid_mask), cues=series)


def _ceiling_pairs(data: ClipData) -> tuple[np.ndarray, np.ndarray] | None:
    if data.labels is None:
        return None
    m = min(len(data.latent), len(data.labels))
    lat, lab = data.latent[:m], data.labels[:m]
    valid = ~np.isnan(lab).any(axis=1)
    return lat[valid], lab[valid]


def _audio(vp: VideoPlan, clips: list[ClipData], rng: np.random.Generator, snr_db: float) -> tuple[np.ndarray, float]:
    duration = vp.duration
    n_out = int(round(duration * vp.sample_rate))
    turns_of: list[list[tuple[float, float]] | None] = [None] * len(clips)
    if len(clips) == 2:  # two people take turns
        turns_of = [[], []]
        t, who = 0.0, int(rng.integers(2))
        while t < duration:
            length = min(rng.uniform(1.5, 4.0), max(duration / 3.0, 0.8))
            turns_of[who].append((t, min(t + length, duration)))
            t, who = t + length + rng.uniform(0.1, 0.4), 1 - who
    voices = []
    for data, turns in zip(clips, turns_of):
        base = SPEAKERS[data.plan.person]
        speaker = Speaker(base.f0_mid * rng.uniform(0.93, 1.07), base.formant_scale, base.tilt)
        v = synth_voice(rng, speaker, duration, data.cues["voice_arousal"], data.cues["voice_valence"],
                        float(vp.fps), turns)
        voices.append(resample(v, SYNTH_RATE, vp.sample_rate, n_out))
    pans = [0.5] if len(voices) == 1 else [0.3, 0.7]
    return mix(voices, pans, room_noise(rng, n_out, vp.sample_rate, vp.channels), snr_db)


def _motions(vp: VideoPlan, clips: list[ClipData], rng: np.random.Generator) -> None:
    w, h = vp.size
    people = len(clips)
    for k, data in enumerate(clips):
        face = data.face
        scale = SPRITE_HEIGHT[people] / face.size[1]
        sprite_w = face.size[0] * scale
        if people == 1:
            centre, x_range, y_range = (w / 2.0, h / 2.0 + 4.0), 40.0, 10.0
        else:
            centre = (w * (0.25 + 0.5 * k), h / 2.0 + 4.0)
            x_range, y_range = max(w / 4.0 - sprite_w / 2.0 - 14.0, 4.0), 10.0
        speed = np.clip(0.35 + 0.65 * (data.cues["motion_arousal"] + 1.0) / 2.0, 0.1, 1.3)
        exit = None
        nf = data.plan.no_face
        if nf is not None and nf[0] == "exit":
            exit = (nf[1], nf[2], 1 if rng.random() < 0.5 else -1)
        data.motion = plan_motion(rng, vp.frames, float(vp.fps), centre=centre, scale=scale, x_range=x_range,
                                  y_range=y_range, speed=speed, exit=exit,
                                  exit_distance=w / 2.0 + x_range + 20.0 + np.hypot(*face.size) * scale)


def _render(vp: VideoPlan, clips: list[ClipData], rng: np.random.Generator, video_path: Path,
            audio: np.ndarray | None, crops: dict[str, Path] | None) -> None:
    w, h = vp.size
    fps = float(vp.fps)
    background = Image.fromarray(make_background(rng, w, h)).convert("RGBA")
    occluder = Image.fromarray(make_occluder(rng, w, h))
    noise = camera_noise(rng, w, h)
    noise_order = rng.integers(len(noise), size=vp.frames)
    illumination = rng.uniform(0.95, 1.05) * (1.0 + smooth_noise(rng, vp.frames, fps, 2.0, 0.02))
    occlusion = [d.plan.no_face for d in clips if d.plan.no_face and d.plan.no_face[0] == "occlusion"]
    for d in clips:
        d.present = np.zeros(vp.frames, bool)
    with atomic_path(video_path) as tmp, AVWriter(tmp, vp.fps, w, h, audio, vp.sample_rate) as writer:
        for f in range(vp.frames):
            canvas = background.copy()
            boxes = []
            for d in clips:
                m = d.motion
                shaped = face_shape(d.face, d.cues["shape_valence"][f], d.cues["shape_arousal"][f])
                rgb = face_colour(d.face, d.cues["face_valence"][f], d.cues["face_arousal"][f], rgb=shaped)
                layer = paint_face(d.face, rgb, (w, h), m.cx[f], m.cy[f], m.scale[f], m.angle[f])
                boxes.append(visible_box(layer))
                canvas.alpha_composite(layer)
            edge = 0
            for _, start, stop in occlusion:
                edge = int(round(w * pulse(np.asarray(f / fps), start, stop, TRANSITION_S)))
                if edge > 0:
                    canvas.paste(occluder.crop((0, 0, edge, h)), (0, 0))
            frame = np.asarray(canvas.convert("RGB"), dtype=np.float32) * np.float32(illumination[f])
            frame += noise[noise_order[f]]
            frame = np.clip(frame, 0, 255).astype(np.uint8)
            writer.write(frame)
            image = None
            for d, box in zip(clips, boxes):
                d.present[f] = box is not None and box[2] > edge
                if crops is not None and d.present[f]:
                    if image is None:
                        image = Image.fromarray(frame)
                    m = d.motion
                    eyes = eye_positions(d.face, m.cx[f], m.cy[f], m.scale[f], m.angle[f])
                    aligned_crop(image, eyes).save(crops[d.plan.clip] / f"{f + 1:05d}.jpg", quality=92)


def _prepare_out(out: Path, args: dict) -> None:
    """Make `out` ready: new, empty, or an earlier synthetic corpus (whose parts are removed)."""
    if out.exists() and any(out.iterdir()):
        if not ((out / RECORD).is_file() or (out / MARKER).is_file()):
            raise FileExistsError(f"{out} is not empty and is not a synthetic corpus (no {RECORD}): refusing "
                                  "to write into it (pick an empty or new folder)")
        log.info("replacing the synthetic corpus in %s", out)
        (out / RECORD).unlink(missing_ok=True)
        for name in OUR_DIRS:
            if (out / name).exists():
                shutil.rmtree(out / name)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / MARKER, json.dumps(args, sort_keys=True) + "\n")


def _ceiling(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float] | None:
    if not pairs:
        return None
    lat = np.concatenate([p[0] for p in pairs])
    lab = np.concatenate([p[1] for p in pairs])
    return {dim: round(ccc(lat[:, d], lab[:, d]), 6) for d, dim in enumerate(("valence", "arousal"))}


def generate_corpus(out: Path, *, clips: int = 6, seconds: float = 20.0, seed: int = 0,
                    cropped_aligned: bool = False, snr_db: float = 10.0, cues: str = DEFAULT) -> dict:
    """Write a synthetic corpus of `clips` clips of `seconds` s into `out`; return its record.

    The record (also `out/synth_record.json`, written last) holds per clip: clip, video, side,
    split, fps, video_frames (what a decoder yields), label_frames and count_diff (None for
    test clips), invalid_frames and no_face_frames (0-based [start, stop) ranges of label lines
    and video frames), has_audio and the label ceiling CCC(latent, label) per dimension; at the
    top: seed, seconds, snr_db, the corpus ceiling (all labelled frames concatenated) and, under
    "videos", each video's container details (exact rate, size, audio rate/channels, SNR).
    Same arguments, same bytes: labels, latent, crops, record and videos (x264 runs with fixed,
    single-threaded options). `out` must be new, empty or an earlier synthetic corpus (replaced);
    a folder with other content raises FileExistsError.

    `cues` names the cue layout (affect/synth/variants.py: which cues carry valence and arousal);
    a layout other than the default is recorded as "cues" in the record (the default's record and
    every file are byte-identical to those written before layouts existed).
    """
    out = Path(out)
    layout = cue_layout(cues)  # unknown names fail before anything is written
    plans = plan_corpus(clips, seconds, seed)
    extra = {} if cues == DEFAULT else {"cues": layout.describe()}
    _prepare_out(out, {"generator": "affect.synth", "version": VERSION, "clips": clips, "seconds": float(seconds),
                       "seed": seed, "cropped_aligned": bool(cropped_aligned), "snr_db": float(snr_db), **extra})
    log.info("synth: %d clips in %d videos of %.1f s, seed %d -> %s", clips, len(plans), seconds, seed, out)
    clip_records, video_records, pairs = [], [], []
    test_clips: list[str] = []
    for vp in tqdm(plans, desc="synth", unit="video", disable=None):
        rng = np.random.default_rng([seed, 1, vp.index])
        shape_rng = np.random.default_rng([seed, 2, vp.index])
        data = [clip_series(vp, cp, rng, shape_rng, cues) for cp in vp.clips]
        for d in data:
            p = d.plan.person
            tweak = rng.uniform(0.98, 1.02, 3)
            d.face = make_face(flip=p == 1, colour=tuple(np.asarray(PERSON_COLOUR[p]) * tweak))
        _motions(vp, data, rng)
        audio, snr = (_audio(vp, data, rng, snr_db) if vp.has_audio else (None, None))
        with ExitStack() as stack:  # crop folders appear under their names only when complete
            crops = ({d.plan.clip: stack.enter_context(atomic_dir(out / "cropped_aligned" / d.plan.clip))
                      for d in data} if cropped_aligned else None)
            _render(vp, data, rng, out / "videos" / f"{vp.video}.mp4", audio, crops)
        for d in data:
            cp = d.plan
            write_text(out / "latent" / f"{cp.clip}.csv", d.latent_text)
            ceiling = None
            if cp.split == "test":
                test_clips.append(cp.clip)
            else:
                write_text(out / ANNOTATIONS / SPLIT_DIRS[cp.split] / f"{cp.clip}.txt", d.label_text)
                pair = _ceiling_pairs(d)
                pairs.append(pair)
                ceiling = _ceiling([pair])
            clip_records.append({
                "clip": cp.clip, "video": vp.video, "side": cp.side, "split": cp.split,
                "fps": float(vp.fps), "video_frames": vp.frames,
                "label_frames": None if d.labels is None else len(d.labels),
                "count_diff": cp.count_diff,
                "invalid_frames": d.invalid,
                "no_face_frames": _ranges(~d.present),
                "has_audio": vp.has_audio, "ceiling": ceiling,
            })
        video_records.append({
            "video": vp.video, "fps": float(vp.fps), "rate": str(vp.fps), "frames": vp.frames,
            "width": vp.size[0], "height": vp.size[1], "people": len(data), "split": vp.split,
            "has_audio": vp.has_audio, "sample_rate": vp.sample_rate if vp.has_audio else None,
            "channels": vp.channels if vp.has_audio else None,
            "snr_db": None if snr is None else round(snr, 3),
            "no_face": [{"clip": d.plan.clip, "kind": d.plan.no_face[0]} for d in data if d.plan.no_face],
        })
        log.info("%s: %s, %s fps, %d frames, %d person(s), audio %s", vp.video, vp.split, vp.fps, vp.frames,
                 len(data), "yes" if vp.has_audio else "no")
    write_text(out / ANNOTATIONS / "test_set.txt", "".join(f"{c}\n" for c in test_clips))
    record = {
        "version": VERSION, "seed": seed, "clips_requested": clips, "seconds": float(seconds),
        "snr_db": float(snr_db), "cropped_aligned": bool(cropped_aligned),
        "ceiling": _ceiling(pairs), "cue_noise": dict(CUE_NOISE), **extra,
        "clips": clip_records, "videos": video_records,
    }
    write_text(out / RECORD, json.dumps(record, indent=2) + "\n")
    log.info("synth: done, label ceiling CCC %s", record["ceiling"])
    return record
