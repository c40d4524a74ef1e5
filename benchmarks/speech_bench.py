"""Stage 04 `speech`: real-time factor against a bare forward loop, and peak memory against duration.

    python -u benchmarks/speech_bench.py [--minutes 1 10] [--backbones wavlm-base-plus whisper-base]

Random weights, CPU. The audio is the synthetic generator's voice in room noise (one minute,
repeated), muxed into an mp4 per duration; stages 00 `prepare` and 03 `audio` run first (not
timed). Then, each in a fresh process (so peak RSS is its own):

- `stage`: stage 04 run on the recording; time = the stage's per-clip work (memory-mapped
  waveform, chunked/windowed encode, masks, float16 save), model construction excluded;
- `bare`: the same model in a plain loop over 30 s pieces of the waveform held in memory
  (WavLM: `model(x).last_hidden_state`; Whisper: log-mel + encoder per window, no overlap).

Prints one table: seconds, real-time factor (seconds per second of audio) and peak RSS.

`--device cuda`: stage 04 with `device=cuda` and the bare loop on the GPU, in float32
(`speech.amp=false`); with `--amp`, the stage's own float16 autocast (`speech.amp=true`, the
default of the library) against a bare loop under the same autocast.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

log = logging.getLogger("speech_bench")


def make_corpus(folder: Path, minutes: float) -> None:
    """One video of `minutes` minutes (1 fps, 32x32) whose audio is the synthetic voice in room noise."""
    from affect.synth.mux import AVWriter
    from affect.synth.voice import SYNTH_RATE, Speaker, mix, room_noise, synth_voice

    rng = np.random.default_rng(0)
    cue = np.zeros(60 * 25)
    voice = synth_voice(rng, Speaker(), 60.0, cue, cue, 25.0)
    minute, _ = mix([voice], [0.5], room_noise(rng, len(voice), SYNTH_RATE, 1), 10.0)
    audio = np.tile(minute, (1, int(np.ceil(minutes))))[:, :int(minutes * 60 * SYNTH_RATE)]
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    frame = np.full((32, 32, 3), 128, np.uint8)
    with AVWriter(folder / "videos" / "v.mp4", Fraction(1), 32, 32, audio, SYNTH_RATE) as writer:
        for _ in range(int(minutes * 60)):
            writer.write(frame)
    (folder / "clips.csv").write_text("clip,video,split\nv,videos/v.mp4,test\n")


def overrides(corpus: Path, cache: Path, backbone: str, device: str = "cpu") -> list[str]:
    return [f"corpus.root={corpus}", "corpus.layout=csv", "corpus.csv=clips.csv", f"cache_root={cache}",
            "corpus.name=bench", f"device={device}", "speech.weights=random", f"speech.backbones=[{backbone}]",
            "audio.vad=energy"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def autocast(device: str, amp: bool):
    import torch

    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.float16, enabled=amp and kind == "cuda")


def child_stage(corpus: Path, cache: Path, backbone: str, device: str = "cpu", amp: bool = False) -> dict:
    from affect.config import load_config
    from affect.stages import RunOptions, get_stage
    from bench_device import sync

    stage = get_stage("speech")(load_config(overrides=[*overrides(corpus, cache, backbone, device), f"speech.amp={amp}"]))
    spent = []
    process = stage.process

    def timed(*args):
        start = time.perf_counter()
        result = process(*args)
        sync(device)
        spent.append(time.perf_counter() - start)
        return result

    stage.process = timed
    report = stage.run(RunOptions(overwrite=True))
    assert report.failed == 0, report
    return {"seconds": sum(spent), "peak_mb": peak_mb()}


def child_bare(corpus: Path, cache: Path, backbone: str, device: str = "cpu", amp: bool = False) -> dict:
    import torch

    from affect.audio.store import load_wave
    from affect.backbones.registry import create_backbone
    from affect.config import load_config
    from affect.stages import get_stage
    from bench_device import sync

    audio_dir = get_stage("audio")(load_config(overrides=overrides(corpus, cache, backbone))).output.path
    wave, _ = load_wave(audio_dir, "v", mmap=False)
    bb = create_backbone(backbone, weights="random").to(device)
    piece = 480000
    outputs = []
    sync(device)
    start = time.perf_counter()
    with torch.inference_mode(), autocast(device, amp):
        for i in range(0, len(wave), piece):
            x = wave[i:i + piece]
            if backbone.startswith("whisper"):
                x = np.pad(x, (0, piece - len(x)))
                mel = bb.features([x], sampling_rate=16000, return_tensors="pt")["input_features"].to(device)
                outputs.append(bb.model(mel).last_hidden_state[0].float().cpu().numpy())
            else:
                x = torch.from_numpy(np.ascontiguousarray(x))[None].to(device)
                outputs.append(bb.model(x).last_hidden_state[0].float().cpu().numpy())
    sync(device)
    seconds = time.perf_counter() - start
    np.concatenate(outputs)
    return {"seconds": seconds, "peak_mb": peak_mb()}


def run_child(kind: str, corpus: Path, cache: Path, backbone: str, device: str = "cpu", amp: bool = False) -> dict:
    cmd = [sys.executable, "-u", __file__, "--child", kind, "--corpus", str(corpus), "--cache", str(cache),
           "--backbones", backbone, "--device", device, *(["--amp"] if amp else [])]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {backbone} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--backbones", nargs="+", default=["wavlm-base-plus", "whisper-base"])
    parser.add_argument("--child", choices=["stage", "bare"])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                        help="stage 04's `device=` and the bare loop's (auto: CUDA if there is one)")
    parser.add_argument("--amp", action="store_true", help="float16 autocast around the stage and the bare loop (CUDA)")
    args = parser.parse_args()
    if args.child:
        logging.basicConfig(level=logging.WARNING)
        fn = child_stage if args.child == "stage" else child_bare
        print(json.dumps(fn(args.corpus, args.cache, args.backbones[0], args.device, args.amp)))
        return 0
    from bench_device import pick_device, result

    device = str(pick_device(args.device))

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for name in ("affect", "tqdm"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from affect.config import load_config
    from affect.stages import RunOptions, get_stage

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            corpus, cache = Path(tmp) / f"c{minutes:g}", Path(tmp) / f"cache{minutes:g}"
            start = time.perf_counter()
            make_corpus(corpus, minutes)
            for stage in ("prepare", "audio"):
                get_stage(stage)(load_config(overrides=overrides(corpus, cache, args.backbones[0]))).run(RunOptions())
            log.info("%g min: corpus and stage 03 ready in %.1f s", minutes, time.perf_counter() - start)
            for backbone in args.backbones:
                kinds = ["stage", "bare"] if minutes == min(args.minutes) else ["stage"]
                for kind in kinds:
                    r = run_child(kind, corpus, cache, backbone, device, args.amp)
                    rows.append({"backbone": backbone, "minutes": minutes, "kind": kind, **r,
                                 "rtf": r["seconds"] / (minutes * 60)})
                    log.info("%s %g min %s: %.1f s (RTF %.3f), peak %.0f MB", backbone, minutes, kind,
                             r["seconds"], rows[-1]["rtf"], r["peak_mb"])
    log.info("\n%s", table(rows, args))
    short = min(args.minutes)
    for bb in args.backbones:
        get = {r["kind"]: r for r in rows if r["backbone"] == bb and r["minutes"] == short}
        amp = args.amp and device.startswith("cuda")  # autocast is only turned on on CUDA
        result(stage="speech", device=device, amp=amp, backbone=bb + (" (amp)" if amp else ""),
               minutes=short, rtf=get["stage"]["rtf"], bare_rtf=get["bare"]["rtf"])
    return 0


def table(rows: list[dict], args: argparse.Namespace) -> str:
    short, long = min(args.minutes), max(args.minutes)
    lines = ["| backbone | stage 04 RTF | bare loop RTF | ratio stage/bare | peak RSS "
             f"{short:g} min / {long:g} min | ratio |", "|---|---|---|---|---|---|"]
    for bb in args.backbones:
        get = {(r["kind"], r["minutes"]): r for r in rows if r["backbone"] == bb}
        stage, bare, big = get[("stage", short)], get[("bare", short)], get.get(("stage", long), get[("stage", short)])
        lines.append(f"| {bb} | {stage['rtf']:.3f} | {bare['rtf']:.3f} | {stage['seconds'] / bare['seconds']:.2f} | "
                     f"{stage['peak_mb']:.0f} / {big['peak_mb']:.0f} MB | {big['peak_mb'] / stage['peak_mb']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
