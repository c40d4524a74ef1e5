"""A stage's output folder: per-clip results, provenance, errors and the done marker."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from affect.cache import atomic

MARKER = "_done.json"


class StageDir:
    """`<cache_root>/<corpus>/<stage>/<variant>-<hash8>/`, identified by a full fingerprint."""

    def __init__(self, path: Path, fingerprint: str):
        self.path = path
        self.fingerprint = fingerprint

    def __repr__(self) -> str:
        return f"StageDir({self.path})"

    @property
    def done(self) -> bool:
        marker = self.path / MARKER
        if not marker.is_file():
            return False
        return json.loads(marker.read_text()).get("fingerprint") == self.fingerprint

    def marker(self) -> dict[str, Any]:
        return json.loads((self.path / MARKER).read_text())

    def mark_done(self, info: dict[str, Any]) -> None:
        """Written last: its presence (with our fingerprint) means the stage is complete."""
        atomic.write_json(self.path / MARKER, {"fingerprint": self.fingerprint, **info})

    def reset(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)

    # per-clip results ------------------------------------------------------------------
    def clip_dir(self, clip: str) -> Path:
        return self.path / "clips" / clip

    def clip_done(self, clip: str) -> bool:
        """A clip folder only ever appears whole (atomic rename), so existence means done."""
        return self.clip_dir(clip).is_dir()

    def done_clips(self) -> list[str]:
        root = self.path / "clips"
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if p.is_dir() and atomic.TMP_INFIX not in p.name)

    # provenance ------------------------------------------------------------------------
    def save_provenance(self, config_yaml: str, command: str) -> None:
        atomic.write_text(self.path / "config.yaml", config_yaml)
        atomic.write_text(self.path / "command.txt", command + "\n")

    def save_errors(self, errors: list[dict[str, str]]) -> None:
        path = self.path / "errors.csv"
        if errors:
            with atomic.atomic_path(path) as tmp:
                pd.DataFrame(errors, columns=["clip", "file", "error"]).to_csv(tmp, index=False)
        elif path.exists():
            path.unlink()
