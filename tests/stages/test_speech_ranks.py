"""Stage 04 shared by two processes (`speech.shard=k/n`, or torchrun's RANK/WORLD_SIZE): each takes its
share, the last one marks the stage done, and the features are those one process computes.

openSMILE keeps it quick; the split is the same for every backbone."""
import numpy as np
import pytest

from affect.config import load_config
from affect.stages import RunOptions, get_stage


@pytest.mark.parametrize("via", ["config", "env"])
def test_two_shards_complete_the_stage(synth_corpus, tmp_path, monkeypatch, via):
    root, record = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "corpus.name=r", "prepare.folds=2", "audio.vad=energy",
            "speech.weights=random", "speech.backbones=[egemaps]", "device=cpu"]
    cfg = load_config(overrides=args)
    for name in ("prepare", "audio"):
        get_stage(name)(cfg).run(RunOptions())
    done = []
    for rank in (0, 1):
        if via == "env":
            monkeypatch.setenv("RANK", str(rank))
            monkeypatch.setenv("WORLD_SIZE", "2")
            shard_cfg = cfg
        else:
            shard_cfg = load_config(overrides=[*args, f"speech.shard={rank}/2"])
        stage = get_stage("speech")(shard_cfg)
        report = stage.run(RunOptions())
        done.append(stage.output.done)
        assert report.processed in range(1, len(record["clips"]))  # a share, not everything
    assert done == [False, True]  # the last shard to finish marks the stage done
    assert sorted(stage.output.done_clips()) == sorted(c["clip"] for c in record["clips"])
    from affect.audio.store import load_wave
    from affect.backbones.registry import create_backbone

    wave, _ = load_wave(stage.upstream("audio").output.path, "s001")
    expected = create_backbone("egemaps").encode(wave)[0].astype(np.float16)
    np.testing.assert_array_equal(np.load(stage.output.clip_dir("s001") / "egemaps.npz")["values"], expected)
