"""The reader reproduces the generator's own record of every clip."""
import numpy as np
import pandas as pd

from affect.config import load_config
from affect.data.manifest import load_labels, read_manifest
from affect.stages import RunOptions
from affect.stages.prepare import PrepareStage


def test_manifest_reproduces_the_synth_record(synth_corpus, tmp_path):
    root, record = synth_corpus
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={tmp_path}", "prepare.folds=2"])
    stage = PrepareStage(cfg)
    assert stage.run(RunOptions()).status == "ran"
    assert not (stage.output.path / "errors.csv").exists()
    m = read_manifest(stage.output.path).set_index("clip")
    assert sorted(m.index) == sorted(c["clip"] for c in record["clips"])
    for c in record["clips"]:
        row = m.loc[c["clip"]]
        assert row["video"] == c["video"] and (row["side"] or None) == c["side"] and row["split"] == c["split"]
        assert row["fps"] == c["fps"] and row["video_frames"] == c["video_frames"]
        assert bool(row["has_audio"]) == c["has_audio"]
        assert bool(row["crops_dir"])
        if c["split"] == "test":
            assert pd.isna(row["label_frames"]) and row["frames"] == c["video_frames"]
            continue
        assert row["label_frames"] == c["label_frames"] and row["count_diff"] == c["count_diff"]
        labels = load_labels(stage.output.path, c["clip"])
        invalid = np.zeros(len(labels), bool)
        for start, stop in c["invalid_frames"]:
            invalid[start:stop] = True
        np.testing.assert_array_equal(np.isnan(labels).any(axis=1), invalid)
    # the awkward cases are all there
    assert m["fps"].nunique() >= 3 and (~m["has_audio"].astype(bool)).any() and m["side"].notna().any()
    assert (m["count_diff"].dropna() > 0).any() and (m["count_diff"].dropna() < 0).any()
    sides = m[m["side"].notna()]
    assert sides.groupby("video")["fold"].nunique().max() == 1
