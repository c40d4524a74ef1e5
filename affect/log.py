"""Logging set up once per entry point (the library itself only creates loggers)."""
from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"  # log files: every record in full


class ConsoleFormatter(logging.Formatter):
    """`HH:MM:SS message` at INFO and below (stage messages name their stage); level and logger above."""

    def __init__(self) -> None:
        super().__init__(FORMAT, "%H:%M:%S")
        self.short = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return self.short.format(record) if record.levelno <= logging.INFO else super().format(record)


class TqdmHandler(logging.StreamHandler):
    """Writes to the current `sys.stderr`; on a terminal through `tqdm.write`, so that log lines and
    progress bars do not run into each other."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ sets it: always sys.stderr instead
        pass

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if getattr(self.stream, "isatty", lambda: False)():
                from tqdm import tqdm

                tqdm.write(self.format(record), file=self.stream)
            else:
                super().emit(record)
        except Exception:  # logging must never raise
            self.handleError(record)


def _not_third_party_info(record: logging.LogRecord) -> bool:
    """Libraries that log through the root logger (open_clip's `root:` lines...) stay out of the console below
    ERROR (they still reach the log files)."""
    return record.name != "root" or record.levelno >= logging.ERROR


class OncePerRun(logging.Filter):
    """Lets each distinct WARNING through once per run (per `reset`): a warning repeated for every clip, shard
    or stage of a run is said once. Other levels pass."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        key = (record.name, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


ONCE = OncePerRun()


def new_run() -> None:
    """Start a new run: warnings said before may be said again (one call per command)."""
    ONCE.seen.clear()


def setup_logging(level: str | int = "INFO") -> None:
    """Configure the root logger for a command-line entry point (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(h, "_affect", False) for h in root.handlers):
        handler = TqdmHandler()
        handler.setFormatter(ConsoleFormatter())
        handler.addFilter(_not_third_party_info)
        handler.addFilter(ONCE)
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
