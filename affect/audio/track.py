"""One video's audio track, start to finish: decode, check, fit to the video, denoise, speech activity.

`make_track(video, duration, cfg, folder)` writes `wave.npy`, `activity.npz` and `audio.json`
into `folder` (layout: `affect.audio.store`). What goes wrong and what it becomes:

- no audio stream                          -> zeros, fully masked, status "no-audio" (not an error)
- cannot open / decode error               -> `AudioError` (the stage records the clip as failed)
- zero-length stream                       -> zeros, fully masked, status "empty" (logged)
- much shorter / longer than the video     -> padded (padding masked) / trimmed; logged in `problems`
- digital silence                          -> kept, activity 0 everywhere, status "silent" (logged)
- NaN / inf samples after resampling       -> set to 0 and their windows masked (logged)
- clipping, DC offset, narrow-band (8 kHz) -> checked by `affect.audio.checks`: the DC offset is
  audio, more than two channels               removed, the others stated; all in `audio.json`'s
                                              `input` record and `problems`

The enhanced waveform is `wave.npy`; with `audio.keep_raw` the waveform before enhancement
(after the DC fix) is kept beside it as `wave_raw.npy`. Speech activity is found on the
enhanced waveform.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from affect.audio.checks import check_input
from affect.audio.config import AudioConfig
from affect.audio.denoise import denoise
from affect.audio.extract import decode_audio, fit_to_duration
from affect.audio.store import ACTIVITY, INFO, RAW_WAVE, WAVE
from affect.audio.vad import WINDOW, VadParams, speech_activity, window_count, window_times
from affect.cache import atomic
from affect.cache.series import Series, save_series

log = logging.getLogger(__name__)


def vad_params(cfg: AudioConfig) -> VadParams:
    return VadParams(method=cfg.vad, threshold=cfg.vad_threshold, energy_threshold_db=cfg.energy_threshold_db,
                     min_speech_s=cfg.min_speech_s, min_silence_s=cfg.min_silence_s, chunk_s=cfg.chunk_s)


def make_track(video: Path, duration: float, cfg: AudioConfig, folder: Path) -> dict[str, Any]:
    """Write the video's track into `folder`; returns the `audio.json` record."""
    rate = cfg.sample_rate
    samples = int(round(duration * rate))
    problems: list[str] = []
    decoded = decode_audio(video, rate)
    info: dict[str, Any] = {"file": str(video), "sample_rate": rate, "samples": samples, "duration": duration,
                            "source_rate": 0, "source_channels": 0, "start": 0.0}
    if decoded is None:
        log.info("%s: no audio stream: a fully masked track of %.2f s", video, duration)
        return _write(folder, np.zeros(samples, np.float32), 0, np.zeros(0, bool), info, "no-audio", problems, "none",
                      keep_raw=cfg.keep_raw)
    info.update(source_rate=decoded.source_rate, source_channels=decoded.source_channels, start=decoded.start)
    if decoded.stream:
        info["audio_stream"] = decoded.stream
        log.info("%s: several audio streams; using stream %s", video, decoded.stream)
    wave = decoded.wave
    if len(wave) == 0:
        problems.append("the audio stream decodes to no samples")
        log.warning("%s: the audio stream decodes to no samples: a fully masked track", video)
        return _write(folder, np.zeros(samples, np.float32), 0, np.zeros(0, bool), info, "empty", problems, "none",
                      keep_raw=cfg.keep_raw)
    diff = (len(wave) - samples) / rate
    if abs(diff) > cfg.max_length_diff_s:
        what = "shorter" if diff < 0 else "longer"
        problems.append(f"audio is {abs(diff):.2f} s {what} than the video ({len(wave) / rate:.2f} s vs "
                        f"{duration:.2f} s): {'the rest is masked' if diff < 0 else 'trimmed'}")
        log.warning("%s: %s", video, problems[-1])
    wave, real = fit_to_duration(wave, samples)
    bad = ~np.isfinite(wave)
    if bad.any():
        problems.append(f"{int(bad.sum())} non-finite samples after resampling: set to 0 and masked")
        log.warning("%s: %s", video, problems[-1])
        wave = np.where(bad, 0.0, wave).astype(np.float32)
    wave, info["input"], found = check_input(wave, real, rate, decoded.source_rate, decoded.source_channels,
                                             max(0.0, (samples - real) / rate))
    stated = diff < -cfg.max_length_diff_s  # a long shortfall is already stated and logged above
    found = [p for p in found if not (stated and p.startswith("the audio ends"))]
    for problem in found:
        log.warning("%s: %s", video, problem)
    problems += found
    info["denoise"] = cfg.denoise
    status = "ok"
    if real and float(np.max(np.abs(wave[:real]))) < 1e-5:
        status = "silent"
        problems.append("the audio track is silent")
        log.warning("%s: the audio track is silent: no speech anywhere", video)
        info["denoise"] = "none"
    else:
        if cfg.keep_raw:
            atomic.save_npy(folder / RAW_WAVE, np.ascontiguousarray(wave, np.float32))
        wave = denoise(wave, rate, cfg.denoise, cfg.prop_decrease, cfg.chunk_s, cfg.denoise_n_std,
                       cfg.denoise_freq_smooth_hz, cfg.atten_lim_db)
    return _write(folder, wave, real, bad, info, status, problems, cfg.vad, vad_params(cfg), cfg.keep_raw)


def _write(folder: Path, wave: np.ndarray, real: int, bad: np.ndarray, info: dict[str, Any], status: str,
           problems: list[str], vad: str, params: VadParams | None = None, keep_raw: bool = False) -> dict[str, Any]:
    rate = info["sample_rate"]
    if keep_raw and not (folder / RAW_WAVE).is_file():  # nothing was enhanced: the raw waveform is this one
        atomic.save_npy(folder / RAW_WAVE, np.ascontiguousarray(wave, np.float32))
    n = window_count(len(wave))
    valid = np.zeros(n, bool)
    valid[:window_count(real)] = True
    if bad.any():
        hit = np.flatnonzero(bad) // WINDOW
        valid[hit[hit < n]] = False
    if params is not None and real:
        activity, vad = speech_activity(wave, rate, params)
    else:
        activity = np.zeros(n, np.float32)
    activity = np.where(valid, activity, 0.0).astype(np.float32)
    atomic.save_npy(folder / WAVE, np.ascontiguousarray(wave, np.float32))
    save_series(folder / ACTIVITY, Series(values=activity[:, None], times=window_times(n, rate), mask=valid,
                                          rate=rate / WINDOW))
    record = {**info, "status": status, "real_samples": int(real), "vad": vad, "problems": problems,
              "speech_s": round(float(activity.sum()) * WINDOW / rate, 3)}
    atomic.write_json(folder / INFO, record)
    return record
