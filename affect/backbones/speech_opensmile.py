"""`egemaps` and `compare`: openSMILE low-level descriptors (LLDs) as speech backbones.

* `egemaps`: eGeMAPSv02 LLDs, D = 25 (loudness, alpha ratio, Hammarberg index, spectral slopes
  and flux, MFCC 1-4, F0 in semitones, jitter, shimmer, HNR, H1-H2, H1-A3, F1-F3 frequency,
  bandwidth and level), the minimalistic acoustic set of Eyben et al. (2016).
* `compare`: ComParE_2016 LLDs, D = 65 (F0, voicing, jitter, shimmer, HNR, RMS energy, ZCR,
  26 RASTA auditory bands, band energies, roll-offs, spectral shape, MFCC 1-14), the AVEC /
  MuSe audio baseline set.

Both at 100 frames/s: openSMILE frames every 10 ms, each frame starting at k * 10 ms; the
energy/spectral/cepstral LLDs use 20 ms windows and the pitch and voice-quality LLDs 60 ms windows,
both starting there, smoothed by a 3-frame moving average. A row's time is the centre of the
window openSMILE reports for it (start + length / 2): for eGeMAPS the 20 ms window (k * 10 ms +
10 ms), for ComParE the 60 ms window (k * 10 ms + 30 ms). Values are float32, never NaN (openSMILE
writes 0 where a descriptor is undefined, e.g. F0 in unvoiced frames).

Stored as float16 (stage 04's feature files), whose largest value is 65504: ComParE's spectral
variance (Hz^2, up to ~6e6 on noise) is given as its square root, the spectral spread in Hz
(`pcm_fftMag_spectralStd_sma`), and its spectral kurtosis (~1e4 on a pure tone) as
sign(x) log(1 + |x|) (`slog_pcm_fftMag_spectralKurtosis_sma`); anything still beyond +-65000
is clipped there, with a warning. All other descriptors are openSMILE's, unchanged.

Input: 16 kHz mono float32 in [-1, 1] (openSMILE reads 16-bit integers: samples beyond +-1 are
clipped, with a warning, instead of wrapping around). Audio shorter than the longest window (60 ms)
gives zero rows; silence gives rows of silence values; non-finite samples or an openSMILE failure
raise a ValueError that describes the waveform (stage 04 records it for the clip, naming the file).
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from affect.backbones.base import SpeechBackbone
from affect.backbones.registry import register_backbone

log = logging.getLogger(__name__)

HOP_S = 0.010  # openSMILE frame step of both sets
LONGEST_WINDOW_S = 0.060  # pitch / voice-quality window: shorter audio has no complete frame
FLOAT16_SAFE = 65000.0  # values are clipped to +- this (float16 holds up to 65504)
# openSMILE column -> (transform, the column's new name), see the module docstring
TRANSFORMS = {
    "pcm_fftMag_spectralVariance_sma": ("sqrt", "pcm_fftMag_spectralStd_sma"),
    "pcm_fftMag_spectralKurtosis_sma": ("slog", "slog_pcm_fftMag_spectralKurtosis_sma"),
}
SETS = {  # backbone name -> (openSMILE feature set, D, window whose centre a row's time is)
    "egemaps": ("eGeMAPSv02", 25, 0.020),
    "compare": ("ComParE_2016", 65, 0.060),
}


class OpenSmileLLD(SpeechBackbone):
    """openSMILE LLDs of one feature set, frame by frame at 100 frames/s."""

    rate = 1.0 / HOP_S
    layer = "low-level descriptors (LLD)"

    def __init__(self, name: str, weights: str = "default") -> None:
        import opensmile

        if name not in SETS:
            raise KeyError(f"no openSMILE set for {name!r}; known: {', '.join(SETS)}")
        if weights not in ("default", "random"):
            raise ValueError(f"{name}: openSMILE features have no weights; weights must be 'default', got {weights!r}")
        if weights == "random":
            log.info("%s: weights='random' ignored: openSMILE features have no weights", name)
        self.name = name
        self.feature_set, self.dim, self.reported_window_s = SETS[name]
        self.weights = f"opensmile {opensmile.__version__} {self.feature_set} (bundled)"
        self._smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                                      feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        names = list(self._smile.feature_names)
        self._transforms = [(names.index(c), how) for c, (how, _) in TRANSFORMS.items() if c in names]
        self.columns = [TRANSFORMS[c][1] if c in TRANSFORMS else c for c in names]
        if len(self.columns) != self.dim:
            raise RuntimeError(f"{name}: openSMILE {self.feature_set} gives {len(self.columns)} LLDs, "
                               f"expected {self.dim}")

    def encode(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 [samples] at 16 kHz -> (float32 [N, D], float64 [N] window centres in seconds)."""
        if not np.issubdtype(np.asarray(wave).dtype, np.floating):
            raise ValueError(f"{self.name}: expected float samples in [-1, 1], got {np.asarray(wave).dtype}")
        wave = np.asarray(wave, np.float32)
        what = f"waveform of {wave.size} samples ({wave.size / self.sample_rate:.3f} s at {self.sample_rate} Hz)"
        if wave.ndim == 2 and 1 in wave.shape:
            wave = wave.reshape(-1)
        if wave.ndim != 1:
            raise ValueError(f"{self.name}: expected a mono waveform [samples], got shape {wave.shape}")
        if not np.isfinite(wave).all():
            raise ValueError(f"{self.name}: {what} has {int((~np.isfinite(wave)).sum())} non-finite samples")
        empty = np.zeros((0, self.dim), np.float32), np.zeros(0, np.float64)
        if wave.size < LONGEST_WINDOW_S * self.sample_rate:
            log.info("%s: %s is shorter than one %d ms window: no frames", self.name, what, LONGEST_WINDOW_S * 1000)
            return empty
        peak = float(np.abs(wave).max())
        if peak > 1.0:
            log.warning("%s: %s peaks at %.3f, clipped to [-1, 1]", self.name, what, peak)
            wave = np.clip(wave, -1.0, 1.0)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Segment too short")
                df = self._smile.process_signal(wave, self.sample_rate)
        except Exception as e:  # openSMILE's own error types; a ValueError is recorded for the clip by stage 04
            raise ValueError(f"{self.name}: openSMILE {self.feature_set} failed on a {what}: {e}") from e
        values = df.to_numpy(np.float32)
        if len(values) == 1 and np.isnan(values).all():  # openSMILE's "segment too short" row
            return empty
        return self._float16_safe(values, what), self._centres(df.index)

    def _float16_safe(self, values: np.ndarray, what: str) -> np.ndarray:
        """The column transforms of `TRANSFORMS`, then a clip to +-`FLOAT16_SAFE`."""
        for j, how in self._transforms:
            col = values[:, j]
            values[:, j] = np.sqrt(np.maximum(col, 0.0)) if how == "sqrt" else np.sign(col) * np.log1p(np.abs(col))
        over = np.abs(values) > FLOAT16_SAFE
        if over.any():
            cols = sorted({self.columns[j] for j in np.nonzero(over)[1]})
            log.warning("%s: %d values beyond +-%g clipped (float16 storage) in a %s: %s", self.name, int(over.sum()),
                        FLOAT16_SAFE, what, ", ".join(cols))
            np.clip(values, -FLOAT16_SAFE, FLOAT16_SAFE, out=values)
        return values

    def _centres(self, index: Any) -> np.ndarray:
        """Window centres from openSMILE's (start, end) index. Row k starts at k * 10 ms; the index
        says so for every row but the last (ComParE repeats the previous start there, its 60 ms
        windows being one short of the 20 ms ones), and its first start and last end are the signal's
        bounds: starts are taken as k * 10 ms (checked against the index) plus half the reported length."""
        start = index.get_level_values("start").total_seconds().to_numpy()
        end = index.get_level_values("end").total_seconds().to_numpy()
        k = np.arange(len(start))
        if np.abs(start[:-1] - k[:-1] * HOP_S).max(initial=0.0) > 1e-4:
            raise RuntimeError(f"{self.name}: openSMILE frame starts are not k * {HOP_S * 1000:.0f} ms")
        length = float(np.median((end - start)[1:-1])) if len(start) > 2 else self.reported_window_s
        if abs(length - self.reported_window_s) > 1e-4:
            raise RuntimeError(f"{self.name}: openSMILE reports {length * 1000:.1f} ms windows, expected "
                               f"{self.reported_window_s * 1000:.0f} ms")
        return k * HOP_S + length / 2

    def extra_info(self) -> dict[str, Any]:
        return {"rate": self.rate, "feature_set": self.feature_set, "hop_s": HOP_S,
                "windows_s": [0.020, 0.060], "time": f"centre of the {self.reported_window_s * 1000:.0f} ms window",
                "columns": self.columns}


@register_backbone("egemaps", modality="speech", family="opensmile",
                   description="openSMILE eGeMAPSv02 low-level descriptors, D=25 at 100 frames/s; no download")
def egemaps(weights: str = "default", **kwargs: Any) -> SpeechBackbone:
    if kwargs:
        log.debug("egemaps: ignoring options %s", sorted(kwargs))
    return OpenSmileLLD("egemaps", weights)


@register_backbone("compare", modality="speech", family="opensmile",
                   description="openSMILE ComParE_2016 low-level descriptors, D=65 at 100 frames/s; no download")
def compare(weights: str = "default", **kwargs: Any) -> SpeechBackbone:
    if kwargs:
        log.debug("compare: ignoring options %s", sorted(kwargs))
    return OpenSmileLLD("compare", weights)
