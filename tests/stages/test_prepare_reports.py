"""Stage 00 says what it did not use: a missing test list (once), videos no split uses."""
import json
import logging

import numpy as np

from affect.config import load_config
from affect.stages import RunOptions
from affect.stages.prepare import PrepareStage

ANN = "annotations/VA_Estimation_Challenge"


def test_missing_test_list_said_once_and_unused_videos_listed(tmp_path, make_video, make_labels, caplog):
    root = tmp_path / "corpus"
    make_video(root / "videos" / "a.mp4", 8, fps=25)
    make_video(root / "videos" / "extra" / "orphan.mp4", 8, fps=25)  # no label file, no test list
    make_labels(root / ANN / "Train_Set" / "a.txt", np.zeros((8, 2)))
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2"])
    with caplog.at_level(logging.INFO):
        report = PrepareStage(cfg).run(RunOptions())
    assert report.status == "ran"
    missing = [r for r in caplog.records if "test list" in r.getMessage() and "does not exist" in r.getMessage()]
    assert len(missing) == 1 and missing[0].levelno == logging.WARNING
    unused = [r.getMessage() for r in caplog.records if "no split uses" in r.getMessage()]
    assert len(unused) == 1 and "videos/extra/orphan.mp4" in unused[0] and "a.mp4" not in unused[0]
    assert any("1 unused video(s)" in r.getMessage() for r in caplog.records)  # in the summary line too
    done = json.loads((report.path / "_done.json").read_text())
    assert done["unused_videos"] == ["videos/extra/orphan.mp4"]
    assert done["test_list"] == f"missing: {ANN}/test_set.txt"
