from dataclasses import dataclass, field
from pathlib import Path

from affect.cache import files_fingerprint, hashed_fields, stage_fingerprint
from affect.config import load_config
from affect.stages.prepare import PrepareStage


@dataclass
class Section:
    a: int = 1
    speed: int = field(default=8, metadata={"hash": False})


def test_hashed_fields_skip_speed_knobs():
    assert hashed_fields(Section()) == {"a": 1}
    fp = lambda s: stage_fingerprint("x", 1, hashed_fields(s), {})  # noqa: E731
    assert fp(Section(speed=64)) == fp(Section())
    assert fp(Section(a=2)) != fp(Section())
    assert stage_fingerprint("x", 2, {"a": 1}, {}) != stage_fingerprint("x", 1, {"a": 1}, {})
    assert stage_fingerprint("x", 1, {"a": 1}, {"up": "1"}) != stage_fingerprint("x", 1, {"a": 1}, {"up": "2"})


def test_files_fingerprint_follows_files(tmp_path, monkeypatch):
    f = tmp_path / "a.txt"
    f.write_text("one")
    before = files_fingerprint(tmp_path, [f])
    assert files_fingerprint(tmp_path, [f]) == before
    monkeypatch.chdir(tmp_path.parent)  # a relative root and relative paths give the same fingerprint
    assert files_fingerprint(Path(tmp_path.name), [Path(tmp_path.name) / "a.txt"]) == before
    f.write_text("one more")
    assert files_fingerprint(tmp_path, [f]) != before


def test_one_config_value_changes_the_folder_and_nothing_reuses_it(tmp_path):
    root = tmp_path / "corpus"
    (root / "videos").mkdir(parents=True)
    base = [f"corpus.root={root}", f"cache_root={tmp_path / 'cache'}"]
    a = PrepareStage(load_config(overrides=base)).output.path
    assert PrepareStage(load_config(overrides=base)).output.path == a
    assert PrepareStage(load_config(overrides=base + ["prepare.folds=3"])).output.path != a
    # run-wide knobs that do not change results keep the folder
    assert PrepareStage(load_config(overrides=base + ["device=cpu", "log_level=DEBUG"])).output.path == a
    assert a.parent == tmp_path / "cache" / "corpus" / "prepare" and a.name.startswith("affwild2-")


def test_files_fingerprint_through_a_symlinked_folder(tmp_path):
    """A corpus folder that is a symbolic link to another disk: named as spelled below the root,
    stat'ed through the link, and files entirely outside the root are named by their real path."""
    other = tmp_path / "other_disk" / "annotations"
    other.mkdir(parents=True)
    (other / "a.txt").write_text("valence,arousal\n")
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "annotations").symlink_to(other, target_is_directory=True)
    linked = files_fingerprint(root, [root / "annotations" / "a.txt"])
    assert files_fingerprint(root, [(root / "annotations" / "a.txt").resolve()]) != ""
    (other / "a.txt").write_text("valence,arousal\n0.1,0.2\n")
    assert files_fingerprint(root, [root / "annotations" / "a.txt"]) != linked  # follows the file behind the link
    from affect.cache.fingerprint import corpus_name

    assert corpus_name(root / "annotations" / "a.txt", root) == "annotations/a.txt"
    assert corpus_name(other / "a.txt", root) == (other / "a.txt").resolve().as_posix()
