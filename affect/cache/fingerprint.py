"""Fingerprints: a stable hash of a stage's resolved config, its inputs and its version."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable


def hashed_fields(section: Any) -> dict[str, Any]:
    """The fields of a config dataclass that change results (metadata `hash=False` skipped)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        if not f.metadata.get("hash", True):
            continue
        value = getattr(section, f.name)
        out[f.name] = hashed_fields(value) if dataclasses.is_dataclass(value) else value
    return out


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stage_fingerprint(stage: str, version: int, config: dict[str, Any], inputs: dict[str, str]) -> str:
    return digest({"stage": stage, "version": version, "config": config, "inputs": inputs})


def files_fingerprint(root: Path, paths: Iterable[Path]) -> str:
    """Hash of (path, size, mtime) of each file: cheap, and changes when a file does.

    Paths are relative to `root`; a file outside it (a clip list naming videos elsewhere, as
    `affect infer` writes) enters with its absolute path."""
    root = root.resolve()
    rows = []
    for p in sorted(Path(p).resolve() for p in paths):
        st = p.stat()
        name = p.relative_to(root).as_posix() if p.is_relative_to(root) else p.as_posix()
        rows.append((name, st.st_size, st.st_mtime_ns))
    return digest(rows)
