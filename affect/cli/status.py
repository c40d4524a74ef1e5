"""`affect status`: where a corpus stands for one config, stage by stage.

Reads markers, `errors.csv`, the manifest's row count and folder listings only: it never runs a
stage and never imports a model library (stage modules import those where their work starts).
"""
from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from affect.cache.store import MARKER
from affect.config import Config
from affect.data.manifest import MANIFEST
from affect.stages import STAGES, stage_names
from affect.stages.base import PARTIAL, InputError, Stage

HEADER = ("N", "stage", "state", "clips", "failed", "size", "written", "folder")


@dataclass
class StageState:
    number: int
    name: str
    state: str  # done | partial | incomplete | not run | stale | error
    clips: str = "-"  # "k/n" for per-clip stages
    failed: int | None = None
    first_error: str = ""
    folder: Path | None = None
    size: int | None = None
    written: float | None = None
    notes: list[str] = field(default_factory=list)


def folder_size(path: Path) -> int:
    """Bytes on disk below `path`."""
    total = 0
    for top, _, files in os.walk(path):
        for name in files:
            try:
                st = os.stat(os.path.join(top, name))
            except OSError:
                continue
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
    return total


def count_rows(path: Path) -> int | None:
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def read_errors(folder: Path) -> tuple[int, str]:
    """How many clips `errors.csv` (and the shards' `errors.shard*.csv`) list, and the first as `clip: file: error`."""
    rows: dict[str, dict[str, str]] = {}
    for path in [folder / "errors.csv", *sorted(folder.glob("errors.shard*.csv"))]:
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as f:
                for i, row in enumerate(csv.DictReader(f)):
                    rows.setdefault(row.get("clip") or f"{path.name}:{i}", row)
    if not rows:
        return 0, ""
    first = next(iter(rows.values()))
    return len(rows), ": ".join(v for v in (first.get("clip"), first.get("file"), first.get("error")) if v)


def clip_count(stage: Stage, total: int | None) -> str:
    if not stage.per_clip:
        return "-"
    return f"{len(stage.output.done_clips())}/{total if total is not None else '?'}"


def stage_state(stage: Stage, total: int | None) -> StageState:
    """The state of one stage's output folder for this config."""
    out = stage.output
    row = StageState(stage.number, stage.name, "not run", folder=out.path)
    root = stage.stage_root
    others = [p for p in root.iterdir() if p.is_dir() and p != out.path] if root.is_dir() else []
    if others:
        row.notes.append(f"{len(others)} other output folder(s) in {stage.stage_root} (other configs or versions)")
    if not out.path.is_dir():
        return row
    row.size = folder_size(out.path)
    row.failed, row.first_error = read_errors(out.path)
    try:
        done, partial = out.read_marker(MARKER), out.read_marker(PARTIAL)
    except InputError as e:
        row.state = "stale"
        row.notes.append(str(e))
        return row
    marker = done or partial
    row.written = (out.path / (MARKER if done else PARTIAL)).stat().st_mtime if marker else out.path.stat().st_mtime
    if stage.name == "prepare" and done:
        row.clips = str(done.get("clips", total))
    else:
        row.clips = clip_count(stage, total)
    if done:
        row.state = "done"
    elif partial:
        row.state = "partial"
        limit = f"--limit {partial['limit']}" if partial.get("limit") is not None else "a partial run"
        if partial.get("tainted"):
            row.notes.append(f"partial ({limit}), built on partial input: a full run redoes it")
        else:
            row.notes.append(f"partial ({limit}): a full run adds the missing clips")
    else:
        row.state = "incomplete"
        row.notes.append("started but not finished (interrupted?): rerun to resume")
    return row


def collect(cfg: Config) -> list[StageState]:
    """Every registered stage's state for `cfg`, in stage order."""
    names = stage_names()
    stages: dict[str, Stage] = {}
    rows: list[StageState] = []
    total: int | None = None
    for name in names:
        try:
            stage = next(iter(stages.values())).upstream(name) if stages else _first(name, cfg)
            stages[name] = stage
            stage.fingerprint  # noqa: B018  (computes the upstream chain: may raise InputError)
        except InputError:
            raise
        except Exception as e:  # a stage that cannot load is a row, not the end of the table
            rows.append(StageState(STAGES[name][0], name, "error", notes=[f"{type(e).__name__}: {e}"]))
            continue
        row = stage_state(stage, total)
        if name == "prepare" and row.state == "done":
            total = count_rows(stage.output.path / MANIFEST)
        rows.append(row)
    return rows


def _first(name: str, cfg: Config) -> Stage:
    from affect.stages import get_stage

    return get_stage(name)(cfg)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def shown_path(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


def render(cfg: Config, rows: list[StageState]) -> str:
    """The status table, the first error of each stage with failures, and notes."""
    table = [HEADER] + [(
        f"{r.number:02d}", r.name, r.state, r.clips, "-" if r.failed is None else str(r.failed), human_size(r.size),
        time.strftime("%Y-%m-%d %H:%M", time.localtime(r.written)) if r.written else "-",
        shown_path(r.folder) if r.state != "not run" else f"({shown_path(r.folder)})",
    ) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER) - 1)]
    lines = [f"corpus {cfg.corpus.name or Path(cfg.corpus.root).resolve().name} ({cfg.corpus.root}), "
             f"cache {cfg.cache_root}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[-1] for line in table]
    errors = [f"  {r.name}: {r.failed} failed; first: {r.first_error}" for r in rows if r.failed]
    grouped: dict[str, list[str]] = {}  # the same note for several stages is said once
    for r in rows:
        for note in r.notes:
            grouped.setdefault(note, []).append(r.name)
    notes = [f"  {', '.join(names)}: {note}" for note, names in grouped.items()]
    if errors:
        lines += ["failed clips (errors.csv):", *errors]
    if notes:
        lines += ["notes:", *notes]
    todo = [r.name for r in rows if r.state != "done"]
    if todo:
        lines.append(f"not done: {', '.join(todo)} (`affect run` with the same config and overrides runs them)")
    return "\n".join(lines) + "\n"
