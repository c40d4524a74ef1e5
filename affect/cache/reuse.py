"""Per-clip results carried over between output folders of one stage.

A per-clip stage's folder is named by a fingerprint over the whole corpus (stage 00's manifest),
so adding a clip, fixing one label file or editing the test list gives every stage a new folder.
Each clip folder therefore also records a *clip key* (`_key.json`): a hash of exactly what that
clip's result depends on (the stage, its version and config, the clip's manifest row, its files'
size and time, the upstream stages' keys for the clip). A new folder takes a clip whose key it
finds in another folder of the same stage by hard links (a copy across devices) instead of
computing it again.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

KEY_FILE = "_key.json"


def read_key(clip_dir: Path) -> str | None:
    """The clip key recorded in a clip folder, None when there is none (an older folder, no folder)."""
    try:
        return str(json.loads((clip_dir / KEY_FILE).read_text())["key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_donor(stage_root: Path, exclude: Path, clip: str, key: str) -> Path | None:
    """The newest finished clip folder of `clip` with `key` among the stage's other output folders."""
    if not stage_root.is_dir():
        return None
    folders = [p for p in stage_root.iterdir() if p.is_dir() and p.resolve() != exclude.resolve()]
    for folder in sorted(folders, key=lambda p: p.stat().st_mtime, reverse=True):
        candidate = folder / "clips" / clip
        if candidate.is_dir() and read_key(candidate) == key:
            return candidate
    return None


def link_tree(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> None:
    """Every file below `src` at the same place below `dst` (an existing folder): hard links, or copies
    where a link cannot be made. Results are never written in place, so a linked file stays as it was."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] in skip:
            continue
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
