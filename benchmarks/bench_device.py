"""What the benchmark scripts share for `--device`: pick the device, wait for it, report figures.

Imported as `bench_device` by the scripts in this folder (run as `python benchmarks/<script>.py`,
so this folder is on `sys.path`).
"""
from __future__ import annotations

import json
import sys
from typing import Any

RESULT = "RESULT "  # prefix of the one machine-readable line a script prints (read by run_all.py --gpu)


def pick_device(name: str) -> Any:
    """`affect.device.resolve_device` (a torch.device); a missing GPU ends the script with one line (exit status 2)."""
    from affect.device import resolve_device

    try:
        return resolve_device(name)
    except RuntimeError as e:
        print(f"{sys.argv[0]}: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def sync(device: Any) -> None:
    """Wait for queued CUDA work, so a timer read next covers it (no-op on the CPU)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def result(**figures: object) -> None:
    """Print the machine-readable line: `RESULT {json}`."""
    print(RESULT + json.dumps(figures), flush=True)
