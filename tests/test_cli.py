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


def test_status_and_limit_in_help():
    out = affect("--help").stdout
    assert "status" in out
    assert "completes the same folders" in affect("run", "--help").stdout


def test_limit_must_be_positive(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        main(["run", "--limit", "0"])
    assert e.value.code == 2 and "must be 1 or more" in capsys.readouterr().err


def test_dry_run_on_an_empty_cache_says_what_would_run(synth_corpus, tmp_path, caplog):
    root, _ = synth_corpus
    args = [f"corpus.root={root}", f"cache_root={tmp_path}", "visual.weights=random", "speech.weights=random",
            "--dry-run", "--limit", "2"]  # random: the default backbones' weights are not on this machine
    assert main(["run", *args]) == 0
    assert "prepare: would run" in caplog.text
    assert f"{stage_names()[1]}: would run after prepare" in caplog.text
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_a_stage_logs_its_own_config_section_only(synth_corpus, tmp_path, caplog):
    root, _ = synth_corpus
    assert main(["prepare", f"corpus.root={root}", f"cache_root={tmp_path}", "prepare.folds=2"]) == 0
    assert "prepare:\n  folds: 2" in caplog.text and "corpus:\n  root:" in caplog.text
    assert "min_face_size" not in caplog.text  # another stage's key
    (saved,) = tmp_path.glob("*/prepare/*/config.yaml")
    assert "min_face_size" in saved.read_text()  # the whole resolved config is kept with the output
