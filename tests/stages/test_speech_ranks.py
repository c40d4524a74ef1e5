"""Stage 04 under torchrun with 2 ranks: videos split across ranks, one complete output, as with 1 rank.

openSMILE keeps it quick (no transformers import in the two processes); the sharding is the same for every backbone."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from affect.config import load_config
from affect.stages import RunOptions, get_stage


@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="no torchrun")
def test_two_ranks_split_videos(synth_corpus, tmp_path):
    root, record = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=r", "prepare.folds=2", "audio.vad=energy",
            "speech.weights=random", "speech.backbones=[egemaps]", "device=cpu"]
    cfg = load_config(overrides=args)
    for name in ("prepare", "audio"):
        get_stage(name)(cfg).run(RunOptions())
    torchrun = str(Path(sys.executable).parent / "torchrun")
    script = str(Path(__file__).parents[2] / "pipelines" / "04_speech.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29571", script, *args],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 1 of 2" in done.stderr and "rank 0 of 2" in done.stderr
    stage = get_stage("speech")(cfg)
    assert stage.output.done and sorted(stage.output.done_clips()) == sorted(c["clip"] for c in record["clips"])
    # the same features as one process computes
    one = stage.upstream("audio")
    from affect.audio.store import load_wave
    from affect.backbones.registry import create_backbone

    wave, _ = load_wave(one.output.path, "s001")
    expected = create_backbone("egemaps").encode(wave)[0].astype(np.float16)
    got = np.load(stage.output.clip_dir("s001") / "egemaps.npz")["values"]
    np.testing.assert_array_equal(got, expected)
