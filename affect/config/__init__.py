"""Typed configuration and its loading."""
from affect.config.load import ConfigError, load_config, to_yaml
from affect.config.schema import Config, CorpusConfig, PrepareConfig

__all__ = ["Config", "ConfigError", "CorpusConfig", "PrepareConfig", "load_config", "to_yaml"]
