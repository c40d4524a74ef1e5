"""Fingerprints: a stable hash of a stage's resolved config, its inputs and its version."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
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


def corpus_name(path: Path, root: Path) -> str:
    """How a file is named below a corpus root: relative to the root as spelled (so a `videos/` or
    `annotations/` that is a symbolic link to another disk keeps its place in the corpus), else
    relative to the resolved root, else its resolved absolute path."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    for p, r in ((path, root), (path.resolve(), root.resolve())):
        try:
            return p.relative_to(r).as_posix()
        except ValueError:
            continue
    return path.resolve().as_posix()


def files_fingerprint(root: Path, paths: Iterable[Path]) -> str:
    """Hash of (name below `root`, size, mtime) of each file: cheap, and changes when a file does.

    Files may lie outside `root` (symbolic links to another disk): they are named by
    `corpus_name` and stat'ed through the link.
    """
    rows = []
    for name, p in sorted({corpus_name(p, root): Path(p) for p in paths}.items()):
        st = p.stat()
        rows.append((name, st.st_size, st.st_mtime_ns))
    return digest(rows)
