"""Load a `Config` from YAML files and `key=value` overrides, rejecting unknown keys and bad types."""
from __future__ import annotations

import dataclasses
import inspect
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from affect.config.schema import Config


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the key."""


def _merge(base: Any, other: Any, what: str) -> Any:
    try:
        return OmegaConf.merge(base, other)
    except ConfigKeyError as e:
        raise ConfigError(f"{what}: unknown key '{e.full_key}'") from None
    except ValidationError as e:
        raise ConfigError(f"{what}: bad value for '{e.full_key}': {e.msg}") from None
    except OmegaConfBaseException as e:
        raise ConfigError(f"{what}: {e}") from None


def load_config(files: Iterable[str | Path] = (), overrides: Iterable[str] = ()) -> Config:
    """Defaults, then each YAML file in order, then `key=value` overrides."""
    cfg = OmegaConf.structured(Config)
    for path in files:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        cfg = _merge(cfg, OmegaConf.load(path), str(path))
    overrides = list(overrides)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value")
    if overrides:
        cfg = _merge(cfg, OmegaConf.from_dotlist(overrides), "command line")
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def to_yaml(obj: Any) -> str:
    """The resolved config (or one section) as YAML, for logs and output folders."""
    return OmegaConf.to_yaml(OmegaConf.structured(obj))


@lru_cache(maxsize=None)
def _comments(cls: type) -> dict[str, str]:
    """The trailing `# comment` of each field in a dataclass's source: its help text."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return dict(re.findall(r"^\s+(\w+):[^#\n]*#\s*(.+)$", source, flags=re.M))


def describe(section: Any, prefix: str) -> list[str]:
    """`prefix.key: type = default  # help` lines of a config section, for --help."""
    lines = []
    comments = _comments(type(section))
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if dataclasses.is_dataclass(value):
            lines += describe(value, f"{prefix}{f.name}.")
            continue
        tname = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        note = f"  # {comments[f.name]}" if f.name in comments else ""
        lines.append(f"  {prefix}{f.name}: {tname} = {value!r}{note}")
    return lines
