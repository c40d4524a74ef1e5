"""What is wrong with a decoded track, what stage 03 does about it, and the record `audio.json` keeps.

`check_input` looks at the real samples (after decoding to 16 kHz mono, before enhancement):

- clipping: the share of samples at or above `CLIP_LEVEL` of full scale. Kept as it is (no
  declipping), stated; above `CLIPPED_SHARE` it is a problem.
- DC offset: the mean of the real samples. Above `DC_LIMIT` (-40 dBFS) it is removed (the mean
  subtracted) and stated: an offset skews energy-based activity and the gating noise estimate.
- bandwidth: where the track's long-term spectrum falls `BAND_DB` below its peak. A source
  rate of 8 kHz or less, or a spectrum empty above 4 kHz (8 kHz audio stored at a higher
  rate), is stated as narrow-band (telephone); the speech encoders then see band-limited speech.
- channels: more than two channels (e.g. a 5.1 film track) are averaged to mono like stereo is,
  and stated.
- missing audio: a track that ends before the video's last frame; the rest is zeros and masked.
"""
from __future__ import annotations

from typing import Any

import numpy as np

CLIP_LEVEL = 0.99  # |sample| at or above this share of full scale counts as clipped
CLIPPED_SHARE = 1e-3  # more than this share of clipped samples is reported as a problem
DC_LIMIT = 0.01  # |mean| above this (-40 dBFS) is removed
BAND_DB = 50.0  # bandwidth = the highest frequency whose level is within this of the spectrum's peak
NARROW_HZ = 4200.0  # bandwidth below this = narrow-band (telephone)
MISSING_S = 0.1  # a track ending this much (s) or more before the video is stated
SPECTRUM_S = 60.0  # seconds of the track used for the bandwidth estimate


def bandwidth_hz(wave: np.ndarray, rate: int) -> float:
    """Highest frequency (Hz) whose long-term level is within BAND_DB dB of the peak (0 for silence)."""
    from scipy.signal import welch

    x = np.asarray(wave[:int(SPECTRUM_S * rate)], np.float64)
    if len(x) < 1024 or not np.any(x):
        return 0.0
    f, p = welch(x, rate, nperseg=1024)
    level = 10 * np.log10(p + 1e-20)
    above = np.flatnonzero(level > level.max() - BAND_DB)
    return float(f[above[-1]]) if len(above) else 0.0


def check_input(wave: np.ndarray, real: int, rate: int, source_rate: int, source_channels: int, missing_s: float
                ) -> tuple[np.ndarray, dict[str, Any], list[str]]:
    """(the waveform with the DC offset removed, the `input` record, problems found)."""
    problems: list[str] = []
    part = np.asarray(wave[:real], np.float64)
    clipped = float(np.mean(np.abs(part) >= CLIP_LEVEL)) if real else 0.0
    dc = float(part.mean()) if real else 0.0
    record: dict[str, Any] = {"clipped_share": round(clipped, 6), "dc_offset": round(dc, 6), "dc_removed": False,
                              "channels": int(source_channels), "missing_s": round(missing_s, 3)}
    if clipped > CLIPPED_SHARE:
        problems.append(f"clipped: {clipped:.2%} of the samples at full scale (kept as they are; not declipped)")
    if abs(dc) > DC_LIMIT:
        wave = wave.copy()
        wave[:real] -= np.float32(dc)
        record["dc_removed"] = True
        problems.append(f"DC offset {dc:+.3f} of full scale: removed")
    band = bandwidth_hz(wave[:real], rate) if real else 0.0
    record["bandwidth_hz"] = round(band)
    narrow = 0 < source_rate <= 8000 or 0 < band < NARROW_HZ
    record["narrowband"] = bool(narrow)
    if narrow:
        why = f"source rate {source_rate} Hz" if 0 < source_rate <= 8000 else f"no content above {band:.0f} Hz"
        problems.append(f"narrow-band (telephone) audio: {why}; speech features see band-limited speech")
    if source_channels > 2:
        problems.append(f"{source_channels} channels averaged to mono")
    if missing_s >= MISSING_S:
        problems.append(f"the audio ends {missing_s:.2f} s before the video: the rest is zeros and masked")
    return wave, record, problems
