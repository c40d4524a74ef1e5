"""A stage killed mid-run (kill -9) resumes and ends with outputs identical to an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RUN = [sys.executable, "-m", "affect.cli", "run", "--stage", "prepare", "--stop-stage", "faces", "--device", "cpu"]


def command(root: Path, cache: Path) -> list[str]:
    return RUN + [f"corpus.root={root}", f"cache_root={cache}", "corpus.name=c", "faces.size=64", "prepare.folds=2",
                   "faces.max_side=192", "faces.min_face_size=24"]


def outputs(cache: Path) -> dict[str, Path]:
    skip = {"log.txt", "command.txt", "config.yaml"}  # these name the cache folder or hold timings
    return {p.relative_to(cache).as_posix(): p for p in sorted(cache.rglob("*")) if p.is_file() and p.name not in skip}


def same_file(a: Path, b: Path) -> bool:
    if a.suffix == ".npz":
        x, y = np.load(a), np.load(b)
        return x.files == y.files and all(np.array_equal(x[k], y[k], equal_nan=True) for k in x.files)
    return a.read_bytes() == b.read_bytes()


def test_kill_9_then_resume_equals_uninterrupted(tmp_path):
    from affect.synth.corpus import generate_corpus

    root = tmp_path / "corpus"
    generate_corpus(root, clips=3, seconds=2.0, seed=3)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command(root, whole), check=True, capture_output=True, timeout=600)

    proc = subprocess.Popen(command(root, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    clips_dir = None
    while time.time() < deadline and proc.poll() is None:
        found = list(killed.glob("c/faces/*/clips"))
        if found and any(p.is_dir() and ".tmp-" not in p.name for p in found[0].iterdir()):
            clips_dir = found[0]
            break
        time.sleep(0.02)
    assert clips_dir is not None, "the run ended before a clip was written; nothing to interrupt"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (clips_dir.parent / "_done.json").exists()
    done_before = {p.name for p in clips_dir.iterdir() if ".tmp-" not in p.name}

    resumed = subprocess.run(command(root, killed), check=True, capture_output=True, text=True, timeout=600)
    assert f"resuming: {len(done_before)} of" in resumed.stderr
    assert not list(killed.rglob("*.tmp-*"))
    a, b = outputs(whole), outputs(killed)
    assert a.keys() == b.keys()
    different = [k for k in a if not same_file(a[k], b[k])]
    assert different == []
