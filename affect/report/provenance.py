"""Which stage folders produced a result: path, fingerprint and config section of each."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import yaml

from affect.cache.store import MARKER

#: config sections that belong to a stage besides its own (prepare reads the corpus section)
EXTRA_SECTIONS = {"prepare": ("corpus",)}


@dataclass
class StageRecord:
    name: str
    number: int
    path: Path
    fingerprint: str  # from its done marker; "" when not finished
    config_yaml: str  # the stage's config section(s), as saved in its config.yaml


def stage_record(name: str, number: int, path: Path) -> StageRecord:
    """Read one stage folder's marker and the sections of its saved config.yaml."""
    marker = path / MARKER
    fingerprint = json.loads(marker.read_text()).get("fingerprint", "") if marker.is_file() else ""
    config_file = path / "config.yaml"
    sections = {}
    if config_file.is_file():
        full = yaml.safe_load(config_file.read_text()) or {}
        sections = {k: full[k] for k in (*EXTRA_SECTIONS.get(name, ()), name) if k in full}
    text = yaml.safe_dump(sections, sort_keys=False).strip() if sections else "(no config.yaml)"
    return StageRecord(name, number, path, fingerprint, text)


def records(stages: Iterable[tuple[str, int, Path]]) -> list[StageRecord]:
    """A record per (name, number, folder), ordered by stage number (the caller, a stage, walks its inputs)."""
    return [stage_record(name, number, path) for name, number, path in sorted(stages, key=lambda s: s[1])]


def random_weight_backbones(recs: Iterable[StageRecord]) -> list[str]:
    """The backbones of stages 02/04 that ran with random weights (their `backbones.json`)."""
    names = []
    for r in recs:
        path = r.path / "backbones.json"
        if r.name in ("visual", "speech") and path.is_file():
            info = json.loads(path.read_text())
            names += [n for n, d in info.items() if str(d.get("weights", "")).startswith("random")]
    return names


def fused_sets(recs: Iterable[StageRecord]) -> list[str]:
    """The feature sets stage 07 fused (its done marker), [] when unknown."""
    for r in recs:
        marker = r.path / MARKER
        if r.name == "fusion" and marker.is_file():
            return list(json.loads(marker.read_text()).get("features", []))
    return []
