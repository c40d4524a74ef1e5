"""A rerun over finished stages answers in about a second and imports no model library (DESIGN §7)."""
from __future__ import annotations

import subprocess
import sys

from affect.cli import main
from affect.stages import stage_names

HEAVY = ("torch", "torchaudio", "timm", "transformers", "open_clip", "facenet_pytorch", "dlib", "opensmile",
         "librosa", "silero_vad", "sklearn", "matplotlib")


def test_noop_rerun_imports_no_torch(tmp_path):
    from affect.synth.corpus import generate_corpus

    root = tmp_path / "corpus"
    generate_corpus(root, clips=4, seconds=2.0, seed=1, cropped_aligned=True)
    args = [f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "corpus.name=noop", "faces.size=64",
            "prepare.folds=2", "faces.source=provided",  # the corpus's own crops: fast
            "speech.weights=random", "speech.backbones=[egemaps]",  # no weights to download
            "visual.weights=random", "visual.backbones=[resnet50-tiny]", "visual.workers=0",
            *[f"{s}.train.{k}" for s in ("unimodal", "fusion") for k in ("epochs=2", "window=8", "stride=4")]]
    assert main(["run", "--device", "cpu", *args]) == 0

    code = ("import sys, time; t = time.perf_counter(); import affect.cli; "
            f"rc = affect.cli.main(['run', '--device', 'cpu', *{args!r}]); "
            f"print(rc, [m for m in {HEAVY!r} if m in sys.modules], round(time.perf_counter() - t, 2), "
            "file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("0 [] "), out.stderr  # exit 0, no heavy module imported
    assert out.stderr.count("already done") == len(stage_names())
    seconds = float(last.rsplit(" ", 1)[1])
    assert seconds < 10.0, f"a no-op run took {seconds} s"  # about a second quiet; 5 s seen with a demo beside it
