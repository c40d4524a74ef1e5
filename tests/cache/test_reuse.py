"""A corpus edit redoes only the clips it changed: per-clip results are linked between output folders."""
from __future__ import annotations

import os

import numpy as np

from affect.cli import main
from affect.cache.reuse import KEY_FILE, read_key
from affect.config import load_config
from affect.stages import get_stage

STAGES = ("faces", "visual", "audio", "speech", "align")


def _folders(args):
    cfg = load_config(overrides=args)
    return {name: get_stage(name)(cfg).output for name in STAGES}


def _inodes(out, clip):
    folder = out.clip_dir(clip)
    return {p.relative_to(folder): p.stat().st_ino for p in folder.rglob("*")
            if p.is_file() and p.name not in ("summary.json", KEY_FILE)}


def test_a_label_edit_redoes_one_clip_of_align_and_nothing_upstream(tmp_path, caplog):
    from affect.synth.corpus import generate_corpus

    root = tmp_path / "corpus"
    generate_corpus(root, clips=3, seconds=2.0, seed=4, cropped_aligned=True)
    args = [f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}", "corpus.name=reuse", "faces.size=64",
            "prepare.folds=2", "faces.source=provided", "speech.weights=random", "speech.backbones=[egemaps]",
            "visual.weights=random", "visual.backbones=[resnet50-tiny]", "visual.workers=0"]
    assert main(["run", "--device", "cpu", "--stop-stage", "align", *args]) == 0
    before = _folders(args)
    clips = sorted(before["align"].done_clips())
    old = {name: {c: _inodes(out, c) for c in clips} for name, out in before.items()}

    label = next((root / "annotations").rglob("Validation_Set/*.txt"))
    lines = label.read_text().splitlines()
    lines[3] = "0.5,-0.5"  # one frame of one clip relabelled
    label.write_text("\n".join(lines) + "\n")
    edited = label.stem
    caplog.clear()
    assert main(["run", "--device", "cpu", "--stop-stage", "align", *args]) == 0
    after = _folders(args)
    assert f"faces: 3 of 3 clips reused from {before['faces'].path.name}" in caplog.text  # one line, not one per clip
    assert f"align: 2 of 3 clips reused from {before['align'].path.name}" in caplog.text

    for name in STAGES:
        assert after[name].path != before[name].path and after[name].done  # stage 00 changed: new folders
        for clip in clips:
            same = _inodes(after[name], clip) == old[name][clip]
            assert same == (name != "align" or clip != edited), (name, clip)  # linked, not computed again
            assert read_key(after[name].clip_dir(clip)) is not None
    for name in STAGES:  # the key does not depend on how the manifest row was taken (numpy or Python scalars)
        stage = get_stage(name)(load_config(overrides=args))
        rows = stage.selected_clips(None)
        by_iloc = rows[rows["clip"] == edited].iloc[0]
        assert isinstance(by_iloc["frames"], np.integer)
        assert stage.clip_key(by_iloc) == read_key(after[name].clip_dir(edited)), name
    y = np.load(after["align"].clip_dir(edited) / "labels.npy")
    assert not np.array_equal(y, np.load(before["align"].clip_dir(edited) / "labels.npy"), equal_nan=True)
    audio = after["audio"].path / "videos"
    assert sorted(os.listdir(audio)) == sorted(os.listdir(before["audio"].path / "videos"))  # per-video audio too

    video = root / "videos" / f"{edited}.mp4"
    os.utime(video, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns + 10**9))  # re-encoded, say
    assert main(["run", "--device", "cpu", "--stop-stage", "faces", *args]) == 0
    faces = _folders(args)["faces"]
    assert [c for c in clips if _inodes(faces, c) != old["faces"][c]] == [edited]
    assert main(["run", "--device", "cpu", "--stop-stage", "faces", "--overwrite", *args]) == 0
    assert all(_inodes(faces, c) != old["faces"][c] for c in clips)  # --overwrite computes every clip
