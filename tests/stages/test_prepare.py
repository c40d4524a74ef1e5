"""Stage 00 on a tiny hand-made corpus with every kind of bad input beside good clips."""
import numpy as np
import pandas as pd
import pytest

from affect.config import load_config
from affect.data.manifest import load_labels, read_manifest
from affect.stages import RunOptions
from affect.stages.prepare import PrepareStage

ANN = "annotations/VA_Estimation_Challenge"


@pytest.fixture
def corpus(tmp_path, make_video, make_labels):
    root = tmp_path / "corpus"
    v = root / "videos"
    make_video(v / "a.mp4", 20, fps=25, audio_seconds=0.8)
    make_video(v / "batch2" / "b.mp4", 20, fps=15)
    make_video(v / "c.mp4", 20, fps=30)
    make_video(v / "t.mp4", 12, fps=25)
    (v / "broken.mp4").write_bytes(b"not a video at all")
    lab = np.full((20, 2), 0.1)
    lab[3:5] = -5
    make_labels(root / ANN / "Train_Set" / "a.txt", lab)
    make_labels(root / ANN / "Train_Set" / "b_left.txt", np.zeros((22, 2)))   # 2 lines longer than video
    make_labels(root / ANN / "Train_Set" / "b_right.txt", np.zeros((22, 2)))
    make_labels(root / ANN / "Validation_Set" / "c.txt", np.zeros((18, 2)))   # video 2 frames longer
    make_labels(root / ANN / "Validation_Set" / "a.txt", lab)                # duplicate id
    make_labels(root / ANN / "Train_Set" / "missing.txt", np.zeros((5, 2)))  # no video
    make_labels(root / ANN / "Train_Set" / "broken.txt", np.zeros((5, 2)))   # unreadable video
    make_labels(root / ANN / "Train_Set" / "c_left.txt", np.zeros((18, 2)), header="v,a")  # wrong header
    (root / ANN / "test_set.txt").write_text("t\n")
    return root


def run_prepare(root, tmp_path, *overrides):
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "prepare.folds=2", *overrides])
    stage = PrepareStage(cfg)
    return stage, stage.run(RunOptions())


def test_manifest_of_a_corpus_with_bad_inputs(corpus, tmp_path):
    stage, report = run_prepare(corpus, tmp_path)
    assert report.status == "ran"
    m = read_manifest(stage.output.path).set_index("clip")
    assert sorted(m.index) == ["a", "b_left", "b_right", "c", "t"]
    assert m.loc["a", "split"] == "train" and m.loc["c", "split"] == "validation" and m.loc["t", "split"] == "test"
    assert m.loc["b_left", "video"] == "b" and m.loc["b_left", "side"] == "left" and m.loc["a", "side"] is None
    assert m.loc["b_left", "video_path"] == "videos/batch2/b.mp4"
    assert (m.loc["a", "fps"], m.loc["b_left", "fps"], m.loc["c", "fps"]) == (25.0, 15.0, 30.0)
    assert bool(m.loc["a", "has_audio"]) and not bool(m.loc["c", "has_audio"])
    # label/frame count differences: labels define the frames; recorded and explained
    assert (m.loc["b_left", "frames"], m.loc["b_left", "count_diff"]) == (22, 2)
    assert (m.loc["c", "frames"], m.loc["c", "count_diff"]) == (18, -2)
    assert "longer" in m.loc["c", "reconcile"] and m.loc["a", "reconcile"] == "equal"
    assert m.loc["t", "frames"] == 12 and pd.isna(m.loc["t", "label_frames"]) and pd.isna(m.loc["t", "fold"])
    assert m.loc["a", "invalid_frames"] == 2
    assert m.loc["b_left", "fold"] == m.loc["b_right", "fold"]
    labels = load_labels(stage.output.path, "a")
    assert labels.dtype == np.float32 and labels.shape == (20, 2) and np.isnan(labels[3:5]).all()
    assert not np.isnan(labels[5:]).any()
    errors = pd.read_csv(stage.output.path / "errors.csv").set_index("clip")
    assert set(errors.index) == {"a", "missing", "broken", "c_left"}
    assert "duplicate" in errors.loc["a", "error"] and "Validation_Set/a.txt" in errors.loc["a", "file"]
    assert "not found" in errors.loc["missing", "error"]
    assert errors.loc["broken", "file"].endswith("broken.mp4") and "cannot open" in errors.loc["broken", "error"]
    assert errors.loc["c_left", "file"].endswith("c_left.txt:1") and "header" in errors.loc["c_left", "error"]
    assert (stage.output.path / "config.yaml").is_file() and (stage.output.path / "command.txt").is_file()


def test_second_run_does_nothing_and_dry_run_writes_nothing(corpus, tmp_path):
    stage, _ = run_prepare(corpus, tmp_path)
    before = (stage.output.path / "manifest.csv").stat().st_mtime_ns
    _, again = run_prepare(corpus, tmp_path)
    assert again.status == "done-before"
    assert (stage.output.path / "manifest.csv").stat().st_mtime_ns == before
    cfg = load_config(overrides=[f"corpus.root={corpus}", f"cache_root={tmp_path / 'other'}"])
    assert PrepareStage(cfg).run(RunOptions(dry_run=True)).status == "would-run"
    assert not (tmp_path / "other").exists()


def test_a_changed_label_file_makes_a_new_output(corpus, tmp_path, make_labels):
    stage, _ = run_prepare(corpus, tmp_path)
    make_labels(corpus / ANN / "Train_Set" / "a.txt", np.full((20, 2), 0.3))
    stage2, report = run_prepare(corpus, tmp_path)
    assert report.status == "ran" and stage2.output.path != stage.output.path


def test_generic_csv_layout(tmp_path, make_video, make_labels):
    root = tmp_path / "mine"
    make_video(root / "clips" / "x.mp4", 10, fps=25)
    make_video(root / "clips" / "y.mp4", 8, fps=25)
    make_labels(root / "va" / "x.csv", np.zeros((10, 2)))
    (root / "list.csv").write_text("clip,video,labels,side,split\n"
                                   "x,clips/x.mp4,va/x.csv,,train\n"
                                   "y,clips/y.mp4,,,test\n"
                                   "z,clips/z.mp4,,middle,train\n")
    stage, report = run_prepare(root, tmp_path, "corpus.layout=csv", "corpus.csv=list.csv")
    m = read_manifest(stage.output.path).set_index("clip")
    assert sorted(m.index) == ["x", "y"] and m.loc["x", "frames"] == 10 and m.loc["y", "split"] == "test"
    errors = pd.read_csv(stage.output.path / "errors.csv")
    assert errors["file"].tolist() == [f"{root / 'list.csv'}:4"] and "side" in errors["error"][0]


def test_csv_videos_that_share_a_file_name_stay_distinct(tmp_path, make_video):
    root = tmp_path / "mine"
    for path in ("a/take1.mp4", "b/take1.mp4", "c/x.mkv", "c/x.mov"):
        make_video(root / path, 8, fps=25)
    (root / "list.csv").write_text("clip,video,side\n"
                                   "ann,a/take1.mp4,\nbob,b/take1.mp4,\nkim,c/x.mkv,\nlee,c/x.mov,\n"
                                   "ann_left,a/take1.mp4,left\nann_right,a/take1.mp4,right\nbob,c/x.mkv,\n")
    stage, _ = run_prepare(root, tmp_path, "corpus.layout=csv", "corpus.csv=list.csv")
    errors = pd.read_csv(stage.output.path / "errors.csv")  # the duplicate id, by the list's line
    assert errors["file"].tolist() == [f"{root / 'list.csv'}:8"] and "list.csv:3" in errors["error"][0]
    video = read_manifest(stage.output.path).set_index("clip")["video"]
    assert video["ann"] != video["bob"] and video["kim"] != video["lee"]  # no shared audio, features or fold
    assert video["ann"] == video["ann_left"] == video["ann_right"] and video["ann"].startswith("take1-")


def test_rejected_clips_are_listed_with_reason_and_frame_count(corpus, tmp_path):
    from affect.data.manifest import read_rejected

    stage, _ = run_prepare(corpus, tmp_path)
    rejected = read_rejected(stage.output.path).set_index("clip")
    assert set(rejected.index) == {"missing", "broken", "c_left"}  # a duplicate id is not a lost clip
    assert rejected.loc["missing", "split"] == "train" and "not found" in rejected.loc["missing", "reason"]
    assert pd.isna(rejected.loc["missing", "video_frames"]) and pd.isna(rejected.loc["broken", "video_frames"])
    assert rejected.loc["c_left", "video_frames"] == 20  # its video (c.mp4) can be read: its frame count
    assert rejected.loc["c_left", "file"].endswith("c_left.txt:1") and "header" in rejected.loc["c_left", "reason"]


def test_label_count_far_off_and_missing_test_video_are_rejected(tmp_path, make_video, make_labels, caplog):
    from affect.data.manifest import read_rejected

    root = tmp_path / "corpus"
    make_video(root / "videos" / "long.mp4", 50, fps=25)
    make_video(root / "videos" / "t.mp4", 12, fps=25)
    make_labels(root / ANN / "Train_Set" / "long.txt", np.zeros((10, 2)))
    (root / ANN / "test_set.txt").write_text("t\nghost\nlong\n")
    stage, _ = run_prepare(root, tmp_path, "prepare.max_count_diff=5")
    rejected = read_rejected(stage.output.path)
    assert list(zip(rejected["clip"], rejected["split"])) == [("long", "train"), ("ghost", "test"), ("long", "test")]
    rejected = rejected.set_index(["clip", "split"])
    assert "max_count_diff" in rejected.loc[("long", "train"), "reason"]
    assert rejected.loc[("long", "train"), "video_frames"] == 50
    assert pd.isna(rejected.loc[("ghost", "test"), "video_frames"])
    # the test list names a clip whose labelled twin was rejected: rejected too, not lost as a mere duplicate
    assert "duplicate" in rejected.loc[("long", "test"), "reason"] and rejected.loc[("long", "test"), "video_frames"] == 50
    assert list(read_manifest(stage.output.path)["clip"]) == ["t"]
    said = [r.getMessage() for r in caplog.records if "stage 08 will refuse" in r.getMessage()]
    assert len(said) == 1 and "2 test clip(s) rejected (ghost, long)" in said[0]  # at stage 00, not after training


def test_symlinked_videos_and_annotations_folders(tmp_path, make_video, make_labels):
    """`videos/` and `annotations/` as symbolic links to another disk: stage 00 simply works."""
    shared = tmp_path / "other_disk"
    make_video(shared / "videos" / "a.mp4", 20, fps=25)
    make_labels(shared / "annotations" / "VA_Estimation_Challenge" / "Train_Set" / "a.txt", np.zeros((20, 2)))
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "videos").symlink_to(shared / "videos", target_is_directory=True)
    (root / "annotations").symlink_to(shared / "annotations", target_is_directory=True)
    stage, report = run_prepare(root, tmp_path)
    assert report.status == "ran" and report.failed == 0
    m = read_manifest(stage.output.path).set_index("clip")
    assert m.loc["a", "label_path"] == f"{ANN}/Train_Set/a.txt" and m.loc["a", "video_path"] == "videos/a.mp4"
    assert load_labels(stage.output.path, "a").shape == (20, 2)
    assert run_prepare(root, tmp_path)[1].status == "done-before"


def test_a_clip_labelled_invalid_throughout_is_kept_and_said(tmp_path, make_video, make_labels, caplog):
    root = tmp_path / "corpus"
    make_video(root / "videos" / "v.mp4", 10, fps=25)
    make_labels(root / ANN / "Train_Set" / "v.txt", np.full((10, 2), -5.0))
    stage, _ = run_prepare(root, tmp_path)
    assert read_manifest(stage.output.path).set_index("clip").loc["v", "invalid_frames"] == 10
    assert any("every label line" in r.getMessage() and "v.txt" in r.getMessage() for r in caplog.records)


def test_a_corpus_as_copied_from_other_systems(tmp_path, make_video, make_labels, caplog):
    """A test list saved with a BOM and non-ASCII names, `.TXT` labels, macOS `._` files, a video name used
    twice, and a test clip that also has a label file: nothing is dropped without a word."""
    from affect.data.manifest import read_rejected
    from affect.report.selection import choose

    root = tmp_path / "corpus"
    v = root / "videos"
    for name in ("a", "Ünï-2", "dup", "both", "take 2"):
        make_video(v / f"{name}.mp4", 10, fps=25)
    make_video(v / "later" / "dup.mp4", 10, fps=25)
    (v / "._a.mp4").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    make_labels(root / ANN / "Train_Set" / "a.TXT", np.zeros((10, 2)))
    (root / ANN / "Train_Set" / "._a.txt").write_bytes(b"\x00\x05\x16\x07")
    make_labels(root / ANN / "Train_Set" / "dup.txt", np.zeros((10, 2)))
    make_labels(root / ANN / "Validation_Set" / "both.txt", np.zeros((10, 2)))
    (root / ANN / "test_set.txt").write_text("\ufeffÜnï-2\r\nboth\r\ntake 2\r\n", encoding="utf-8")
    stage, _ = run_prepare(root, tmp_path)
    m = read_manifest(stage.output.path).set_index("clip")
    assert sorted(m.index) == ["a", "both", "dup", "Ünï-2"] and m.loc["Ünï-2", "split"] == "test"
    assert m.loc["both", "split"] == "validation" and m.loc["dup", "video_path"] == "videos/dup.mp4"
    assert "2 video files are named dup" in caplog.text and "later/dup.mp4" in caplog.text
    rejected = read_rejected(stage.output.path).set_index("clip")
    assert sorted(rejected.index) == ["both", "take 2"] and rejected.loc["both", "split"] == "test"  # not left out
    assert rejected.loc["take 2", "video_frames"] == 10  # a bad name: still filled from its video on request
    assert "also a validation clip" in rejected.loc["both", "reason"] and rejected.loc["both", "video_frames"] == 10
    assert "._a" not in caplog.text  # no resource fork taken for a clip or a label file
    reason = choose(tmp_path, None, 0, "", ["both"]).reason
    assert "stage 00 rejected every test clip (both" in reason
