"""Stage 03's storage layout, and the readers that later stages use.

Under the stage's output folder (`<cache_root>/<corpus>/audio/<variant>-<hash8>/`)::

    videos/<video>/wave.npy       float32 [samples], 16 kHz mono, denoised; exactly
                                  round(video_frames / fps * 16000) samples from the video's
                                  time 0 (zeros where the track has no real audio)
    videos/<video>/wave_raw.npy   (`audio.keep_raw`) the same samples before enhancement
                                  (after the input fixes: DC offset removed)
    videos/<video>/activity.npz   an `affect.cache.series` Series: values [N, 1] speech activity
                                  0/1 per 32 ms window (512 samples), times = window centres
                                  (k + 0.5) * 0.032 s, mask = the window holds real audio
                                  (False: no audio stream, past the end of a short track,
                                  NaN samples), rate 31.25
    videos/<video>/audio.json     status (ok | no-audio | silent | empty), source rate and
                                  channels, samples, real_samples, vad method, denoise backend,
                                  `input` (what was checked: clipped fraction, DC offset,
                                  bandwidth, channels, missing seconds), problems
    clips/<clip>/audio.json       {"video": <video>, ...}: which video folder the clip uses
                                  (`_left` / `_right` clips share one)
    clips/<clip>/summary.json

Each `videos/<video>/` folder appears whole (atomic rename) and is made once per video.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from affect.cache.series import Series, load_series

WAVE = "wave.npy"
RAW_WAVE = "wave_raw.npy"  # the waveform before enhancement (`audio.keep_raw`)
RAW_SUFFIX = ".raw"  # stage 04's name for a backbone's features of the raw waveform: `<backbone>.raw`
ACTIVITY = "activity.npz"
INFO = "audio.json"


def video_dir(stage_dir: str | Path, video: str) -> Path:
    return Path(stage_dir) / "videos" / video


def clip_video(stage_dir: str | Path, clip: str) -> str:
    """The video whose audio a clip uses."""
    path = Path(stage_dir) / "clips" / clip / INFO
    if not path.is_file():
        raise FileNotFoundError(f"no audio for clip {clip!r} in {stage_dir} ({path} is missing: did stage 03 "
                                "`audio` finish, or did this clip fail there?)")
    return json.loads(path.read_text())["video"]


def load_speech_mask(audio_stage_dir: str | Path, clip: str) -> Series:
    """Speech activity of a clip's audio: values [N, 1] float32 (1 = speech), times [N] (s), mask [N]."""
    return load_series(video_dir(audio_stage_dir, clip_video(audio_stage_dir, clip)) / ACTIVITY)


def load_audio_info(audio_stage_dir: str | Path, clip: str) -> dict[str, Any]:
    folder = video_dir(audio_stage_dir, clip_video(audio_stage_dir, clip))
    return json.loads((folder / INFO).read_text())


def load_wave(audio_stage_dir: str | Path, clip: str, mmap: bool = True, raw: bool = False
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """(float32 [samples] at 16 kHz, the video's audio.json) for a clip; memory-mapped by default,
    so long recordings are read lazily, chunk by chunk. `raw`: the waveform before enhancement."""
    folder = video_dir(audio_stage_dir, clip_video(audio_stage_dir, clip))
    if raw and not (folder / RAW_WAVE).is_file():
        raise FileNotFoundError(f"{folder / RAW_WAVE} missing: stage 03 ran without audio.keep_raw=true")
    wave = np.load(folder / (RAW_WAVE if raw else WAVE), mmap_mode="r" if mmap else None)
    return wave, json.loads((folder / INFO).read_text())
