"""A synthetic talking voice and the room noise it is recorded in.

Source-filter synthesis, done additively: a harmonic (glottal-pulse-like) source whose f0 follows
arousal, each harmonic weighted by a spectral tilt that follows valence (brighter when positive)
and by the magnitude response of three formant resonances (a vowel per syllable). A syllable-like
envelope (3-5 syllables/s in phrases with pauses) and a loudness that follows arousal shape it;
short noise bursts mark consonants. The voice is made at 16 kHz and resampled to the container's
rate. Room noise is stationary coloured noise (about 1/f above 100 Hz) plus mains hum, mixed in at
a given speech-to-noise ratio.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import butter, resample_poly, sosfilt

SYNTH_RATE = 16000  # Hz, the voice is made at this rate
CONTROL_RATE = 200  # Hz, rate of the control tracks (f0, formants, envelopes)
MAX_HARMONIC_HZ = 7000.0
# F1, F2, F3 (Hz) of five vowels and the formant bandwidths.
VOWELS = np.array([(730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240)],
                  dtype=np.float64)
BANDWIDTHS = np.array([80.0, 100.0, 130.0])
SPEECH_LEVEL = 0.06  # RMS of a voiced syllable at arousal 0 (before the loudness cue)


@dataclass(frozen=True)
class Speaker:
    """A voice: median f0 (Hz), formant scale (vocal-tract length), base spectral tilt."""

    f0_mid: float = 170.0
    formant_scale: float = 1.0
    tilt: float = 1.0


def syllable_plan(rng: np.random.Generator, duration: float, arousal_at, turns: list[tuple[float, float]] | None = None
                  ) -> list[tuple[float, float, int, float, float]]:
    """Syllables as (onset s, length s, vowel index, accent 0-1, phrase position 0-1).

    Phrases of 3-8 syllables at 4 + 0.9*arousal syllables/s, separated by pauses of 0.2-0.7 s
    times (1 - 0.45*arousal): calm speech pauses longer, aroused speech is denser.
    With `turns` (a list of (start, stop) s), syllables only fall inside them.
    """
    turns = turns if turns is not None else [(0.0, duration)]
    out = []
    for start, stop in turns:
        t = start + rng.uniform(0.05, 0.2)
        while t < stop - 0.15:
            n_syl = int(rng.integers(3, 9))
            for k in range(n_syl):
                rate = 4.0 + 0.9 * float(np.clip(arousal_at(t), -1.2, 1.2))
                length = rng.uniform(0.8, 1.2) / rate
                if t + length > stop:
                    break
                out.append((t, length, int(rng.integers(len(VOWELS))), rng.uniform(0.6, 1.0), k / max(n_syl - 1, 1)))
                t += length
            t += rng.uniform(0.2, 0.7) * max(1.0 - 0.45 * float(np.clip(arousal_at(t), -1.2, 1.2)), 0.3)
    return out


def synth_voice(rng: np.random.Generator, speaker: Speaker, duration: float, arousal_cue: np.ndarray,
                valence_cue: np.ndarray, cue_rate: float, turns: list[tuple[float, float]] | None = None
                ) -> np.ndarray:
    """float64 mono voice at SYNTH_RATE, `duration` s long.

    `arousal_cue`/`valence_cue` are sampled at `cue_rate` Hz (the video's frame rate). f0 =
    f0_mid * 2^(0.55 a) (about 120-250 Hz for f0_mid 170), loudness +-12 dB with a, spectral tilt
    `tilt - 0.5 v` (harmonic k weighted k^-tilt; positive valence: brighter voice).
    """
    n_ctrl = int(np.ceil(duration * CONTROL_RATE)) + 2
    t_ctrl = np.arange(n_ctrl) / CONTROL_RATE
    t_cue = np.arange(len(arousal_cue)) / cue_rate
    a = np.interp(t_ctrl, t_cue, arousal_cue)
    v = np.interp(t_ctrl, t_cue, valence_cue)
    sylls = syllable_plan(rng, duration, lambda t: np.interp(t, t_cue, arousal_cue), turns)

    env = np.zeros(n_ctrl)
    burst = np.zeros(n_ctrl)
    intonation = np.zeros(n_ctrl)
    vowel_of = np.full(n_ctrl, -1)
    for onset, length, vowel, accent, pos in sylls:
        i0 = int(onset * CONTROL_RATE)
        i1 = min(int((onset + length) * CONTROL_RATE), n_ctrl)
        if i1 - i0 < 3:
            continue
        x = (np.arange(i0, i1) - i0) / (i1 - i0)
        voiced = np.clip((x - 0.08) / 0.84, 0, 1)
        env[i0:i1] = np.maximum(env[i0:i1], accent * np.sin(np.pi * voiced) ** 0.7)
        burst[i0:min(i0 + 5, n_ctrl)] = 0.5 * accent
        intonation[i0:i1] = 0.04 * (1.0 - 2.0 * pos) + 0.03 * accent * np.sin(np.pi * x)
        vowel_of[i0:i1] = vowel
    # hold the last vowel through pauses, then glide between vowels
    idx = np.where(vowel_of >= 0, np.arange(n_ctrl), 0)
    np.maximum.accumulate(idx, out=idx)
    vowels = np.where(vowel_of[idx] >= 0, vowel_of[idx], 0)
    formants = gaussian_filter1d(VOWELS[vowels] * speaker.formant_scale, 0.025 * CONTROL_RATE, axis=0)
    jitter = gaussian_filter1d(rng.standard_normal(n_ctrl), 0.03 * CONTROL_RATE) * 0.03
    f0 = np.clip(speaker.f0_mid * 2.0 ** (0.55 * a) * (1.0 + intonation + jitter), 80.0, 320.0)
    tilt = speaker.tilt - 0.5 * np.clip(v, -1.5, 1.5)
    loud = 10.0 ** (12.0 * np.clip(a, -1.5, 1.5) / 20.0)

    n = int(round(duration * SYNTH_RATE))
    t = np.arange(n) / SYNTH_RATE
    f0_s = np.interp(t, t_ctrl, f0)
    phase = 2.0 * np.pi * np.cumsum(f0_s) / SYNTH_RATE
    step = np.exp(1j * phase)
    zk = step.copy()
    voice = np.zeros(n)
    k_max = int(MAX_HARMONIC_HZ // f0.min())
    for k in range(1, k_max + 1):
        fk = k * f0
        gain = k ** (-tilt)
        for j in range(3):
            fj, bj = formants[:, j], BANDWIDTHS[j] * speaker.formant_scale
            gain = gain * fj ** 2 / np.sqrt((fj ** 2 - fk ** 2) ** 2 + (bj * fk) ** 2)
        gain = np.where(fk < MAX_HARMONIC_HZ, gain, 0.0)
        voice += np.interp(t, t_ctrl, gain) * zk.imag
        zk *= step
    voice /= np.sqrt(np.mean(voice ** 2)) + 1e-12
    aspiration = sosfilt(butter(2, 2500, "highpass", fs=SYNTH_RATE, output="sos"), rng.standard_normal(n))
    aspiration /= aspiration.std() + 1e-12
    voice = voice + 0.04 * aspiration
    out = SPEECH_LEVEL * np.interp(t, t_ctrl, env * loud) * voice
    out += SPEECH_LEVEL * 0.4 * np.interp(t, t_ctrl, burst * loud) * aspiration
    return out


def resample(x: np.ndarray, rate_in: int, rate_out: int, n_out: int) -> np.ndarray:
    """Polyphase resampling, padded or cut to exactly `n_out` samples."""
    if rate_in != rate_out:
        ratio = Fraction(rate_out, rate_in)
        x = resample_poly(x, ratio.numerator, ratio.denominator)
    if len(x) < n_out:
        x = np.pad(x, (0, n_out - len(x)))
    return x[:n_out]


def room_noise(rng: np.random.Generator, n: int, rate: int, channels: int) -> np.ndarray:
    """[channels, n] stationary coloured noise, unit power: ~1/f above 100 Hz, plus 50 Hz hum."""
    spec_len = n // 2 + 1
    f = np.fft.rfftfreq(n, 1.0 / rate)
    shape = 1.0 / np.sqrt(np.maximum(f, 100.0)) * (1.0 / (1.0 + (f / 6000.0) ** 2))
    t = np.arange(n) / rate
    hum = sum(np.sin(2 * np.pi * 50.0 * h * t + rng.uniform(0, 2 * np.pi)) / h for h in (1, 2, 3))
    common = np.fft.irfft((rng.standard_normal(spec_len) + 1j * rng.standard_normal(spec_len)) * shape, n)
    chans = []
    for _ in range(channels):
        own = np.fft.irfft((rng.standard_normal(spec_len) + 1j * rng.standard_normal(spec_len)) * shape, n)
        x = common + (0.5 * own if channels > 1 else 0.0)
        x = x / (x.std() + 1e-12) + 0.3 * hum
        chans.append(x / np.sqrt(np.mean(x ** 2)))
    return np.stack(chans)


def mix(voices: list[np.ndarray], pans: list[float], noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, float]:
    """Pan each mono voice (0 = left, 0.5 = centre, 1 = right) into noise's channels and add the
    noise at `snr_db` (speech power over noise power, whole track, all channels).

    Returns float32 [channels, n] peak-limited to 0.95 (speech and noise scaled together, so
    the SNR holds) and the SNR actually obtained.
    """
    channels, n = noise.shape
    speech = np.zeros((channels, n))
    for voice, pan in zip(voices, pans):
        if channels == 1:
            speech[0] += voice
        else:
            speech[0] += np.cos(pan * np.pi / 2) * np.sqrt(2) * voice
            speech[1] += np.sin(pan * np.pi / 2) * np.sqrt(2) * voice
    p_speech = float(np.mean(speech ** 2))
    noise = noise * np.sqrt(p_speech / 10.0 ** (snr_db / 10.0) / np.mean(noise ** 2))
    out = speech + noise
    snr = 10.0 * np.log10(p_speech / np.mean(noise ** 2))
    peak = np.abs(out).max()
    if peak > 0.95:
        out *= 0.95 / peak
    return out.astype(np.float32), float(snr)
