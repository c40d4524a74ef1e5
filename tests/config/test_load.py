import pytest

from affect.config import Config, ConfigError, load_config, to_yaml


def test_defaults_yaml_and_overrides(tmp_path):
    assert load_config() == Config()
    f = tmp_path / "a.yaml"
    f.write_text("corpus:\n  root: /data/x\nprepare:\n  folds: 4\n")
    cfg = load_config([f], ["prepare.folds=7", "seed=3"])
    assert cfg.corpus.root == "/data/x" and cfg.prepare.folds == 7 and cfg.seed == 3
    assert isinstance(cfg, Config)
    assert "folds: 7" in to_yaml(cfg)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown key 'prepare\.fold'"):
        load_config(overrides=["prepare.fold=3"])


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"'prepare\.folds'"):
        load_config(overrides=["prepare.folds=many"])
    f = tmp_path / "bad.yaml"
    f.write_text("cache_rot: x\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*unknown key 'cache_rot'"):
        load_config([f])


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="key=value"):
        load_config(overrides=["prepare.folds"])
    with pytest.raises(ConfigError, match="not found"):
        load_config([tmp_path / "nope.yaml"])


def test_shipped_yaml_files_load():
    from pathlib import Path

    conf = Path(__file__).resolve().parents[2] / "pipelines" / "conf"
    files = sorted(conf.glob("*.yaml"))
    assert files
    for f in files:
        load_config([f])
