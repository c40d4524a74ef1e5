"""Replaying a generated corpus's cues from its record, and the cue reference read from them."""
import json

import numpy as np
import pytest

from affect.metrics.ccc import ccc
from affect.synth.corpus import ANNOTATIONS, RECORD, SPLIT_DIRS, VERSION
from affect.synth.plan import plan_corpus
from affect.synth.replay import cue_reference, replay


def labels_of(root, split):
    out = {}
    for path in sorted((root / ANNOTATIONS / SPLIT_DIRS[split]).glob("*.txt")):
        y = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
        y[(y == -5).any(axis=1)] = np.nan
        out[path.stem] = y
    return out


def test_replay_draws_the_written_latent_and_labels_again(corpus):
    root, record = corpus
    replayed = replay(root)
    assert sorted(replayed) == sorted(c["clip"] for c in record["clips"])
    for clip, (fps, data) in replayed.items():
        written = np.loadtxt(root / "latent" / f"{clip}.csv", delimiter=",", skiprows=1, ndmin=2)
        np.testing.assert_array_equal(data.latent, written)
        assert fps == next(c["fps"] for c in record["clips"] if c["clip"] == clip)
        assert {len(s) for s in data.cues.values()} == {len(written)}
    for split in SPLIT_DIRS:
        for clip, y in labels_of(root, split).items():
            np.testing.assert_array_equal(np.isnan(y), np.isnan(replayed[clip][1].labels))


def replayed_labels(root, clips=30, seconds=12.0, seed=3, cues=None):
    """A record alone (no video rendered) and its clips' labels by split, drawn by replay."""
    root.mkdir(parents=True, exist_ok=True)
    (root / RECORD).write_text(json.dumps({"version": VERSION, "seed": seed, "clips_requested": clips, "seconds": seconds,
                                           **({"cues": {"name": cues}} if cues else {})}))
    split = {cp.clip: vp.split for vp in plan_corpus(clips, seconds, seed) for cp in vp.clips}
    return {s: {c: d.labels for c, (_, d) in replay(root).items() if split[c] == s} for s in ("train", "validation")}


def scores(ref, labels):
    y, p = np.concatenate(list(labels.values())), np.concatenate([ref[c] for c in labels])
    return [ccc(p[~np.isnan(y[:, d]), d], y[~np.isnan(y[:, d]), d]) for d in (0, 1)]


def test_the_cue_reference_reads_the_validation_clips_without_their_labels(tmp_path):
    labels = replayed_labels(tmp_path / "default")
    ref = cue_reference(tmp_path / "default", labels["train"], labels["validation"])
    assert min(scores(ref, labels["validation"])) > 0.7  # every cue follows its dimension: unseen clips are read well
    rng = np.random.default_rng(0)
    noise = {c: rng.uniform(-1, 1, v.shape) for c, v in labels["validation"].items()}
    again = cue_reference(tmp_path / "default", labels["train"], noise)  # scored labels play no part in predictions
    for c in labels["validation"]:
        np.testing.assert_array_equal(again[c], ref[c])


def test_the_cue_reference_falls_where_a_layout_leaves_one_weak_cue(tmp_path):
    default = replayed_labels(tmp_path / "default")
    weak = replayed_labels(tmp_path / "weak", cues="voice-no-arousal")  # arousal only in the noisy face cues
    full = scores(cue_reference(tmp_path / "default", default["train"], default["validation"]), default["validation"])
    face = scores(cue_reference(tmp_path / "weak", weak["train"], weak["validation"]), weak["validation"])
    assert face[1] < full[1] - 0.05
    assert abs(face[0] - full[0]) < 0.02  # valence's cues are the default's


def test_replay_refuses_a_record_of_another_generator_version(corpus, tmp_path):
    root, _ = corpus
    record = json.loads((root / RECORD).read_text())
    (tmp_path / RECORD).write_text(json.dumps({**record, "version": record["version"] + 1}))
    with pytest.raises(ValueError, match="generator version .* cannot be replayed"):
        replay(tmp_path)
    with pytest.raises(ValueError, match="not a corpus written by `affect synth`"):
        replay(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"clips \['nope'\] are not in its record"):
        cue_reference(root, {"nope": np.zeros((3, 2))}, {})
