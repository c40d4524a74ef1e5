import subprocess
import sys

from affect.cli import main
from affect.stages import stage_names, stage_range


def affect(*args):
    return subprocess.run([sys.executable, "-m", "affect.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_stages_and_stage_help_shows_defaults():
    out = affect("--help")
    assert out.returncode == 0
    for name in stage_names():
        assert name in out.stdout
    faces = affect("faces", "--help").stdout
    assert "--overwrite" in faces and "--dry-run" in faces and "--limit" in faces
    assert "faces.size: int = 224" in faces and "corpus.root" in faces


def test_bad_override_is_a_clear_error(caplog):
    assert main(["prepare", "prepare.fold=3"]) == 2
    assert "unknown key 'prepare.fold'" in caplog.text


def test_missing_upstream_says_what_to_run(tmp_path, caplog):
    (tmp_path / "c").mkdir()
    assert main(["faces", f"corpus.root={tmp_path / 'c'}", f"cache_root={tmp_path / 'cache'}"]) == 2
    assert "needs stage 'prepare'" in caplog.text


def test_stage_range_by_name_and_number():
    assert stage_range("prepare", "faces") == ["prepare", "faces"]
    assert stage_range("1", "1") == ["faces"]
