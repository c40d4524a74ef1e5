"""Stage 03 `audio`: speech enhancement backends and speech-activity masks, measured on speech made offline.

    python -u benchmarks/audio_bench.py [--only enhance mask] [--snr 0 5 15] [--out DIR]

Speech: espeak-ng (`apt-get install espeak-ng`), several voices reading different sentences,
with pauses between sentences. Each target clip is mixed with one noise at 0, 5 and 15 dB
(clean-speech power over noise power, whole clip):

- `stationary`: pink noise plus 50 Hz mains hum with its harmonics;
- `music`: synthesised (chords of harmonic tones, a bass line, hi-hat bursts);
- `babble`: four other espeak voices (none of them the target's) talking at once.

`enhance`: every backend of `audio.denoise` on every mixture. SNR in and out are
scale-invariant (the output projected on the clean speech: 10 log10 |a s|^2 / |y - a s|^2),
so a backend is neither rewarded nor punished for changing the level. Time = CPU seconds per
minute of audio, one thread. Speech activity (silero, as stage 03 runs it, on the enhanced
wave) is scored by balanced accuracy against the clean target's voiced windows.

`mask`: a talking face (the astronaut photograph whose mouth opens with the target's voice)
while, in the target's pauses, another voice talks. Voice mask = silero on the mixture;
subject mask = voice AND mouth moving (dlib's 68 points on the rendered crops,
`affect.face.mouth`); both scored against the target's voiced windows.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RATE = 16000
BACKENDS = ("none", "stationary", "nonstationary", "rnnoise", "deepfilternet:100", "deepfilternet:12", "deepfilternet:6")
NOISES = ("stationary", "music", "babble")
TARGETS = ("en-us+m3", "en-gb+f3", "en+m7")
BABBLE = ("en-us+f2", "en-gb-scotland+m1", "en+f4", "en-029+m2", "en-gb-x-rp+m4", "en-us+f5")
SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every summer morning.",
    "A large red train moved slowly through the quiet valley at dawn.",
    "Please remember to close the window before you leave the office tonight.",
    "We watched the game together and cheered when our team finally scored.",
    "The old library holds thousands of books about history and science.",
    "My brother bought a new bicycle and rode it all the way to the lake.",
    "Bright lights flashed across the city as the storm came closer.",
    "Our neighbours planted tomatoes, beans and sunflowers in the garden.",
    "He could not believe how quickly the children learned to swim.",
    "Fresh bread from the bakery smells wonderful early in the morning.",
    "The meeting was moved to Thursday because the manager was ill.",
)
log = logging.getLogger("audio_bench")


# speech ----------------------------------------------------------------------------------
def say(text: str, voice: str, folder: Path, speed: int = 155) -> np.ndarray:
    """espeak-ng's voice reading `text`, float32 at 16 kHz."""
    import soundfile as sf

    from affect.audio.denoise import resample

    path = folder / f"{abs(hash((text, voice, speed)))}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    x, rate = sf.read(path, dtype="float32")
    return resample(x, rate, RATE)


def talk(rng: np.random.Generator, voice: str, sentences: list[str], folder: Path, lead_s: float = 0.5,
         gap_s: tuple[float, float] = (0.6, 1.6)) -> np.ndarray:
    """Sentences read one after another with pauses between them, normalised to RMS 0.05 over speech."""
    parts = [np.zeros(int(lead_s * RATE), np.float32)]
    for s in sentences:
        parts += [say(s, voice, folder), np.zeros(int(rng.uniform(*gap_s) * RATE), np.float32)]
    x = np.concatenate(parts)
    return (x * 0.05 / np.sqrt(np.mean(x[np.abs(x) > 1e-4] ** 2))).astype(np.float32)


def voiced_windows(clean: np.ndarray, below_peak_db: float = 35.0) -> np.ndarray:
    """Truth: 32 ms windows of the clean target whose level is within `below_peak_db` of its loudest."""
    from affect.audio.vad import WINDOW, window_count

    n = window_count(len(clean))
    w = np.pad(clean, (0, n * WINDOW - len(clean))).reshape(n, WINDOW).astype(np.float64)
    level = 10 * np.log10(np.mean(w ** 2, axis=1) + 1e-12)
    return level > np.percentile(level, 99) - below_peak_db


# noise -----------------------------------------------------------------------------------
def pink(rng: np.random.Generator, n: int) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    return np.fft.irfft(spec, n).astype(np.float32)


def stationary_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3, 5))
    p = pink(rng, n)
    return (p / p.std() + 0.5 * hum / hum.std()).astype(np.float32)


def music_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chords of harmonic tones (4 beats each at 120 bpm), a bass line and hi-hat bursts."""
    t = np.arange(n) / RATE
    out = np.zeros(n)
    beat = RATE // 2
    roots = [220.0, 174.6, 261.6, 196.0]
    for b in range(0, n, beat):
        k = b // beat
        seg = slice(b, min(b + beat, n))
        tt = t[seg] - t[b]
        env = np.exp(-3 * tt)
        root = roots[(k // 4) % 4]
        for ratio in (1.0, 1.26, 1.5):  # major triad
            f = root * ratio
            out[seg] += env * sum(np.sin(2 * np.pi * f * h * tt) / h ** 1.5 for h in range(1, 6))
        out[seg] += 1.5 * env * np.sin(2 * np.pi * root / 2 * tt)  # bass
        hat = min(b + beat // 2, n)
        m = min(800, n - hat)
        if m > 0:
            out[hat:hat + m] += 0.3 * rng.standard_normal(m) * np.exp(-np.arange(m) / 150)
    return out.astype(np.float32)


def babble_noise(rng: np.random.Generator, n: int, folder: Path) -> np.ndarray:
    voices = rng.choice(BABBLE, 4, replace=False)
    out = np.zeros(n, np.float32)
    for v in voices:
        order = rng.permutation(len(SENTENCES))
        x = talk(rng, str(v), [SENTENCES[i] for i in order[:6]], folder, lead_s=float(rng.uniform(0, 1)),
                 gap_s=(0.1, 0.4))
        x = np.tile(x, int(np.ceil(n / len(x))))[:n]
        out += x / x.std()
    return out


def mixture(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    noise = noise * np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return (clean + noise).astype(np.float32)


def si_snr(y: np.ndarray, s: np.ndarray) -> float:
    a = float(np.dot(y, s) / np.dot(s, s))
    return float(10 * np.log10(np.sum((a * s) ** 2) / np.sum((y - a * s) ** 2)))


def balanced_accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    return float((pred[truth].mean() + (~pred[~truth]).mean()) / 2)


# enhance ---------------------------------------------------------------------------------
def run_enhance(args: argparse.Namespace, folder: Path) -> dict:
    import torch

    from affect.audio.denoise import denoise
    from affect.audio.vad import VadParams, speech_activity

    from affect.audio.config import AudioConfig

    torch.set_num_threads(1)
    defaults = AudioConfig()
    rng = np.random.default_rng(args.seed)
    rows = []
    for i, target in enumerate(TARGETS[:args.targets]):
        sent = [SENTENCES[(3 * i + k) % len(SENTENCES)] for k in range(3)]
        clean = talk(rng, target, sent, folder)
        truth = voiced_windows(clean)
        noises = {"stationary": stationary_noise(rng, len(clean)), "music": music_noise(rng, len(clean)),
                  "babble": babble_noise(rng, len(clean), folder)}
        for noise in args.noises:
            for snr in args.snr:
                noisy = mixture(clean, noises[noise], snr)
                peak = np.abs(noisy).max()
                if peak > 0.99:
                    noisy, ref = noisy * 0.99 / peak, clean * 0.99 / peak
                else:
                    ref = clean
                for backend in args.backends:
                    mode, _, lim = backend.partition(":")  # deepfilternet:12 = attenuation limited to 12 dB
                    start = time.process_time()
                    out = denoise(noisy, RATE, mode, atten_lim_db=float(lim or defaults.atten_lim_db))
                    seconds = time.process_time() - start
                    act, _ = speech_activity(out, RATE, VadParams())
                    n = min(len(act), len(truth))
                    rows.append({"target": target, "noise": noise, "snr": snr, "backend": backend,
                                 "snr_in": si_snr(noisy, ref), "snr_out": si_snr(out, ref),
                                 "s_per_min": seconds / (len(noisy) / RATE / 60),
                                 "vad_ba": balanced_accuracy(act[:n] > 0.5, truth[:n])})
                    r = rows[-1]
                    log.info("%s %s %g dB %s: %.1f -> %.1f dB, VAD BA %.2f, %.2f s/min", target, noise, snr, backend,
                             r["snr_in"], r["snr_out"], r["vad_ba"], r["s_per_min"])
    return {"rows": rows}


def enhance_tables(rows: list[dict]) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    df["gain"] = df["snr_out"] - df["snr_in"]
    lines = ["| backend | noise | SNR in (dB) | SNR out (dB) | gain (dB) | worst clip gain (dB) | VAD BA | s / min audio |",
             "|---|---|---|---|---|---|---|---|"]
    for (b, noise, snr), g in df.groupby(["backend", "noise", "snr"], sort=False):
        lines.append(f"| {b} | {noise} {snr:g} dB | {g.snr_in.mean():.1f} | {g.snr_out.mean():.1f} | {g.gain.mean():+.1f} "
                     f"| {g.gain.min():+.1f} | {g.vad_ba.mean():.2f} | {g.s_per_min.mean():.2f} |")
    lines += ["", "| backend | mean gain (dB) | worst clip (dB) | worst noise type, mean (dB) | VAD BA stationary+music "
              "| VAD BA babble | s / min audio |", "|---|---|---|---|---|---|---|"]
    for b, g in df.groupby("backend", sort=False):
        per_noise = g.groupby("noise").gain.mean()
        nb = g[g.noise != "babble"]
        bb = g[g.noise == "babble"]
        lines.append(f"| {b} | {g.gain.mean():+.2f} | {g.gain.min():+.2f} | {per_noise.idxmin()} {per_noise.min():+.2f} "
                     f"| {nb.vad_ba.mean():.3f} | {bb.vad_ba.mean() if len(bb) else float('nan'):.3f} "
                     f"| {g.s_per_min.mean():.2f} |")
    return "\n".join(lines)


def enhance_verdict(rows: list[dict]) -> str:
    """The library default's figures against the aims (mean gain >= 2 dB, no clip loses more than 1 dB)."""
    from affect.audio.config import AudioConfig

    default = AudioConfig()
    names = [default.denoise, f"{default.denoise}:{default.atten_lim_db:g}"]
    mine = [r for r in rows if r["backend"] in names]
    if not mine:
        return f"default {default.denoise} not measured"
    gains = [r["snr_out"] - r["snr_in"] for r in mine]
    speech = [r["vad_ba"] for r in mine if r["noise"] != "babble"]
    return (f"default {default.denoise} (atten_lim_db {default.atten_lim_db:g}): mean gain {np.mean(gains):+.2f} dB "
            f"(aim >= +2), worst clip {min(gains):+.2f} dB (aim >= -1); speech activity BA under stationary and music "
            f"noise {np.mean(speech) if speech else float('nan'):.3f} (aim >= 0.8)")


def mask_verdict(rows: list[dict]) -> str:
    other = [r for r in rows if r["case"].startswith("another")]
    v, s = np.mean([r["voice_ba"] for r in other]), np.mean([r["subject_ba"] for r in other])
    return f"another voice in the subject's pauses: subject mask BA {s:.3f} against voice mask {v:.3f} (aim: higher)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", default=["enhance", "mask"], choices=["enhance", "mask"])
    ap.add_argument("--backends", nargs="+", default=list(BACKENDS),
                    help="audio.denoise values; deepfilternet:<dB> sets audio.atten_lim_db")
    ap.add_argument("--noises", nargs="+", default=list(NOISES))
    ap.add_argument("--snr", nargs="+", type=float, default=[0.0, 5.0, 15.0])
    ap.add_argument("--targets", type=int, default=3, help="how many target voices (at most 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="", help="folder for results.json (default: a temporary folder)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out or tempfile.mkdtemp(prefix="audio_bench_"))
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "enhance" in args.only:
            results["enhance"] = run_enhance(args, Path(tmp))
            print("\n" + enhance_tables(results["enhance"]["rows"]), flush=True)
            print(enhance_verdict(results["enhance"]["rows"]), flush=True)
        if "mask" in args.only:
            results["mask"] = run_mask(args, Path(tmp))
            print("\n" + mask_table(results["mask"]), flush=True)
            print(mask_verdict(results["mask"]), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nresults: {out / 'results.json'}")
    return 0


# mask -----------------------------------------------------------------------------------
FPS = 25.0
INTERFERERS = ("en-gb-scotland+f2", "en-us+m1", "en+f3")


def run_mask(args: argparse.Namespace, folder: Path) -> list[dict]:
    """Per target voice and case: balanced accuracy of the voice and the subject masks."""
    import torch

    from affect.audio.config import AudioConfig
    from affect.audio.denoise import denoise
    from affect.audio.vad import VadParams, speech_activity, window_times
    from affect.config.schema import Config
    from affect.face.mouth import mouth_movement, opening_of_crops, subject_activity
    from affect.synth.talking import openness_from_voice, talking_crops

    torch.set_num_threads(1)
    align = Config().align
    audio = AudioConfig()
    rng = np.random.default_rng(args.seed + 1)
    rows = []
    for i, target in enumerate(TARGETS[:args.targets]):
        sent = [SENTENCES[(5 * i + k) % len(SENTENCES)] for k in range(3)]
        clean = talk(rng, target, sent, folder, gap_s=(2.5, 3.5))
        truth = voiced_windows(clean)
        frames = int(len(clean) / RATE * FPS)
        crops = talking_crops(openness_from_voice(clean, RATE, FPS, frames), seed=i)
        movement = mouth_movement(opening_of_crops(crops), FPS, align.mouth_window_s)
        # another voice talks in the target's pauses: its sentences placed inside the silent stretches
        other = np.zeros_like(clean)
        voiced = np.repeat(truth, 512)[:len(clean)]
        quiet = np.flatnonzero(np.diff(np.concatenate([[1], voiced.astype(np.int8), [1]])))
        for a, b in zip(quiet[::2], quiet[1::2]):
            if b - a > 1.5 * RATE:
                x = say(SENTENCES[int(rng.integers(len(SENTENCES)))], INTERFERERS[i % len(INTERFERERS)], folder, 190)
                x = x[:b - a - RATE // 2] * 0.05 / np.sqrt(np.mean(x[np.abs(x) > 1e-4] ** 2))
                start = a + RATE // 4
                other[start:start + len(x)] += x
        noise = stationary_noise(rng, len(clean))
        for case, mix in (("subject alone, noise 10 dB", mixture(clean, noise, 10.0)),
                          ("another voice in the pauses, noise 10 dB", mixture(clean + other, noise, 10.0))):
            wave = denoise(mix, RATE, audio.denoise, atten_lim_db=audio.atten_lim_db)
            voice, _ = speech_activity(wave, RATE, VadParams())
            subject = subject_activity(voice, window_times(len(voice), RATE), movement, FPS, align.mouth_threshold)
            n = min(len(voice), len(truth))
            rows.append({"target": target, "case": case, "voice_ba": balanced_accuracy(voice[:n] > 0.5, truth[:n]),
                         "subject_ba": balanced_accuracy(subject[:n] > 0.5, truth[:n]),
                         "truth_share": float(truth.mean())})
            log.info("%s, %s: voice BA %.3f, subject BA %.3f", target, case, rows[-1]["voice_ba"],
                     rows[-1]["subject_ba"])
    return rows


def mask_table(rows: list[dict]) -> str:
    import pandas as pd

    df = pd.DataFrame(rows)
    lines = ["| case | voice mask BA | subject mask BA | clips |", "|---|---|---|---|"]
    for case, g in df.groupby("case", sort=False):
        lines.append(f"| {case} | {g.voice_ba.mean():.3f} | {g.subject_ba.mean():.3f} | {len(g)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
