"""Which stage folders produced a result: path, fingerprint and config section of each."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from affect.cache.store import MARKER

if TYPE_CHECKING:
    from affect.stages.base import Stage

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


def upstream_records(stage: Stage, include_self: bool = False) -> list[StageRecord]:
    """Every stage that ``stage`` depends on, directly or not, ordered by stage number."""
    seen: dict[str, Stage] = {}

    def visit(s: Stage) -> None:
        for name in s.requires:
            if name not in seen:
                seen[name] = s.upstream(name)
                visit(seen[name])

    visit(stage)
    if include_self:
        seen[stage.name] = stage
    ordered = sorted(seen.values(), key=lambda s: s.number)
    return [stage_record(s.name, s.number, s.output.path) for s in ordered]
