"""Every benchmark in one command, then one table of their headline lines.

    python -u benchmarks/run_all.py            # quick settings (~23 min on 2 CPU cores)
    python -u benchmarks/run_all.py --full     # each script's own defaults (~55 min)
    python -u benchmarks/run_all.py --only faces visual
    python -u benchmarks/run_all.py --gpu      # on one CUDA GPU, float16 autocast where the library uses it (~8 min on an H200)

Each script runs in its own process (its full output streams through and is also saved under
`--out`); the closing table lists, per script, its wall time, exit status and the lines of its
output that carry the figures compared with an aim (ratios, CCC against the ceiling, speeds).

`--gpu` runs a short set on `--device cuda` instead (`GPU_BENCHES`: 1080p faces, the visual stage
with the real architectures at random weights, batch 128, 4 loader workers; WavLM Large and
Whisper large-v3 on 2 min of audio, in float32 and under the library's float16 autocast (its
default on CUDA); fusion training throughput), then a projection table: per stage, the throughput
measured (each script's `RESULT` line) and the projected device-hours for all of Aff-Wild2
(`projection.py`).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_device import RESULT  # noqa: E402
from projection import project, table  # noqa: E402

# name -> (script, quick arguments)
BENCHES: dict[str, tuple[str, list[str]]] = {
    "faces": ("faces_bench.py", ["--minutes", "0.5", "1", "--speed-seconds", "8", "--rounds", "2",
                                 "--hd-frames", "16", "--threads", "1"]),
    "visual": ("visual_bench.py", ["--rounds", "2"]),
    "cheap": ("cheap_features_bench.py", ["--seconds", "30", "--crops", "32", "--repeats", "2"]),
    "speech": ("speech_bench.py", ["--minutes", "1", "2"]),
    "train": ("train_bench.py", ["--clips", "16", "--seconds", "45", "--windows", "64", "--memory", ""]),
    "audio": ("audio_bench.py", ["--targets", "1", "--snr", "5", "15"]),  # espeak-ng speech: enhancement and masks
    "pipeline": ("pipeline_bench.py", ["--cues", "default"]),  # stages 00-09, 40 clips x 8 s: ~15 min, then cached
    "infer": ("infer_bench.py", ["--clips", "12", "--seconds", "10"]),  # quick; the 0.7 aim is measured at 40 x 8 s (--full)
}
# --gpu: (name, group for --only, script, arguments), sized to fit ~8 min on an H200 with the model builds
GPU_VISUAL = ["--only", "speed", "--device", "cuda", "--frames", "1024", "--batch", "128", "--workers", "4",
              "--rounds", "2"]
GPU_SPEECH = ["--minutes", "2", "--backbones", "wavlm-large", "whisper-large-v3", "--device", "cuda"]
GPU_BENCHES: list[tuple[str, str, str, list[str]]] = [
    ("faces", "faces", "faces_bench.py", ["--only", "hd", "--hd-frames", "48", "--rounds", "2", "--device", "cuda"]),
    *[(f"visual-{bb}", "visual", "visual_bench.py", ["--backbone", bb, *GPU_VISUAL])
      for bb in ("resnet50", "senet50-vggface2", "clip-vit-l14", "eva02-large")],
    ("speech", "speech", "speech_bench.py", GPU_SPEECH),
    ("speech-amp", "speech", "speech_bench.py", [*GPU_SPEECH, "--amp"]),
    ("train", "train", "train_bench.py", ["--throughput-only", "--device", "cuda", "--clips", "16", "--seconds", "60"]),
]
HEADLINE = re.compile(r"aim|ratio|/ ceiling|ceiling|fusion|real.time|RTF|crops/s|frames/s|windows/s", re.I)


def run(name: str, script: str, arguments: list[str], out: Path) -> dict[str, object]:
    cmd = [sys.executable, "-u", str(HERE / script), *arguments]
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line.rstrip("\n"))
    seconds = time.perf_counter() - start
    (out / f"{name}.log").write_text("\n".join(lines) + "\n")
    heads = [" ".join(ln.split()) for ln in lines
             if HEADLINE.search(ln) and not ln.lstrip().startswith(("===", "python", RESULT))]
    results = [json.loads(ln[len(RESULT):]) for ln in lines if ln.startswith(RESULT)]
    return {"name": name, "seconds": seconds, "rc": proc.returncode, "headlines": heads, "results": results}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="each script's own (longer) defaults")
    ap.add_argument("--gpu", action="store_true", help="the short CUDA set and the Aff-Wild2 projection")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), default=list(BENCHES))
    ap.add_argument("--out", type=Path, default=Path("features/benchmarks"), help="folder for the full logs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.gpu:
        return gpu(args)
    results = [run(name, BENCHES[name][0], [] if args.full else BENCHES[name][1], args.out) for name in args.only]
    summary(results, args.out)
    return max(int(r["rc"]) for r in results)


def summary(results: list[dict], out: Path) -> None:
    print("\n\n| benchmark | wall | exit | headline figures |\n|---|---|---|---|")
    for r in results:
        heads = "<br>".join(str(h).replace("|", "/") for h in r["headlines"]) or "(none)"
        print(f"| {r['name']} | {r['seconds']:.0f} s | {r['rc']} | {heads} |")
    print(f"\nfull logs: {out}/<benchmark>.log")


def gpu(args: argparse.Namespace) -> int:
    """The GPU set, its summary, then the Aff-Wild2 projection (also saved as `gpu_projection.md`)."""
    import torch

    if not torch.cuda.is_available():
        print("run_all.py --gpu: CUDA is not available here", file=sys.stderr)
        return 2
    device = torch.cuda.get_device_name(0)
    start = time.perf_counter()
    results = [run(name, script, arguments, args.out)
               for name, group, script, arguments in GPU_BENCHES if group in args.only]
    summary(results, args.out)
    measured = [m for r in results for m in r["results"]]
    text = table(project(measured), device)
    text += ("\n\nvisual: `visual.batch_size=128 visual.workers=4`, every frame read from the crop store; "
             "speech: float32, `(amp)` under the library's float16 autocast (its default on CUDA); "
             "train: float32 and under float16 autocast (`train.amp`, its default on CUDA). "
             f"Total {time.perf_counter() - start:.0f} s.")
    print("\n" + text)
    (args.out / "gpu_projection.md").write_text(text + "\n")
    (args.out / "gpu_results.json").write_text(json.dumps(measured, indent=1) + "\n")
    return max(int(r["rc"]) for r in results)


if __name__ == "__main__":
    sys.exit(main())
