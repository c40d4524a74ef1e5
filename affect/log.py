"""Logging set up once per entry point (the library itself only creates loggers)."""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str | int = "INFO") -> None:
    """Configure the root logger for a command-line entry point (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(h, "_affect", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        handler._affect = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("PIL", "matplotlib", "numba", "urllib3", "filelock", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """Also append every log record to `path` while the block runs (a stage's own log)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
