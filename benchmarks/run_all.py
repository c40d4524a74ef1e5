"""Every benchmark in one command, then one table of their headline lines.

    python -u benchmarks/run_all.py            # quick settings (~15 min on 2 CPU cores)
    python -u benchmarks/run_all.py --full     # each script's own defaults (~45 min)
    python -u benchmarks/run_all.py --only faces visual

Each script runs in its own process (its full output streams through and is also saved under
`--out`); the closing table lists, per script, its wall time, exit status and the lines of its
output that carry the figures compared with an aim (ratios, CCC against the ceiling, speeds).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# name -> (script, quick arguments)
BENCHES: dict[str, tuple[str, list[str]]] = {
    "faces": ("faces_bench.py", ["--minutes", "0.5", "1", "--speed-seconds", "8", "--rounds", "2",
                                 "--hd-frames", "16", "--threads", "1"]),
    "visual": ("visual_bench.py", ["--rounds", "2"]),
    "cheap": ("cheap_features_bench.py", ["--seconds", "30", "--crops", "32", "--repeats", "2"]),
    "speech": ("speech_bench.py", ["--minutes", "1", "2"]),
    "train": ("train_bench.py", ["--clips", "16", "--seconds", "45", "--windows", "64", "--memory", ""]),
}
HEADLINE = re.compile(r"aim|ratio|/ ceiling|ceiling|fusion|real.time|RTF|crops/s|frames/s|windows/s", re.I)


def run(name: str, full: bool, out: Path) -> dict[str, object]:
    script, quick = BENCHES[name]
    cmd = [sys.executable, "-u", str(HERE / script), *([] if full else quick)]
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
    heads = [" ".join(ln.split()) for ln in lines if HEADLINE.search(ln) and not ln.lstrip().startswith(("===", "python"))]
    return {"name": name, "seconds": seconds, "rc": proc.returncode, "headlines": heads}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="each script's own (longer) defaults")
    ap.add_argument("--only", nargs="+", choices=list(BENCHES), default=list(BENCHES))
    ap.add_argument("--out", type=Path, default=Path("features/benchmarks"), help="folder for the full logs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = [run(name, args.full, args.out) for name in args.only]
    print("\n\n| benchmark | wall | exit | headline figures |\n|---|---|---|---|")
    for r in results:
        heads = "<br>".join(str(h).replace("|", "/") for h in r["headlines"]) or "(none)"
        print(f"| {r['name']} | {r['seconds']:.0f} s | {r['rc']} | {heads} |")
    print(f"\nfull logs: {args.out}/<benchmark>.log")
    return max(int(r["rc"]) for r in results)


if __name__ == "__main__":
    sys.exit(main())
