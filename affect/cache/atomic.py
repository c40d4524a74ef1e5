"""Atomic writes: write to a temporary name beside the target, then rename.

A killed run never leaves a file (or folder) under its final name that a later run
would take as finished; leftovers carry a `.tmp-` infix and are swept by `sweep_tmp`.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

TMP_INFIX = ".tmp-"


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{path.name}{TMP_INFIX}{os.getpid()}-{uuid.uuid4().hex[:6]}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary file path; on success it is renamed to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces `path` whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def sweep_tmp(folder: Path) -> int:
    """Remove leftovers of killed runs below `folder`; returns how many were removed."""
    if not folder.exists():
        return 0
    stale = [p for p in folder.rglob(f"*{TMP_INFIX}*")]
    for p in sorted(stale, key=lambda p: len(p.parts), reverse=True):
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            p.unlink()
    return len(stale)
