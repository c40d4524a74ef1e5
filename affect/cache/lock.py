"""One writer per output folder: a second `affect run` on the same cache stops with a clear line
instead of resuming from, or sweeping away, what the first is still writing.

The lock is an advisory `flock` on `<stage root>/.<folder>.lock` (beside the folder, so that a
stage may clear and recreate its folder while holding it); the operating system releases it
when the process ends, however it ends, so a killed run never leaves a stale lock. The file
stays empty and is never rewritten (a rerun over finished work writes nothing). Processes of
one run (shards, torchrun ranks) use their own lock names or none.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # not POSIX: no locking
    fcntl = None  # type: ignore[assignment]


class FolderBusy(RuntimeError):
    """Another process holds the folder's lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: locked by another process")


def lock_path(folder: Path, suffix: str = "") -> Path:
    return folder.parent / f".{folder.name}{suffix}.lock"


@contextlib.contextmanager
def folder_lock(folder: Path, suffix: str = "") -> Iterator[None]:
    """Hold the lock of `folder` while the block runs; FolderBusy when another process holds it."""
    if fcntl is None:
        yield
        return
    path = lock_path(folder, suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderBusy(folder) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
