"""Per-frame valence/arousal label files (Aff-Wild2 format).

Header `valence,arousal`, then one line per video frame (line i = frame i, 1-based);
`-5` marks an invalid value. In memory: float32 [frames, 2], NaN where invalid.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

INVALID = -5.0
HEADER = ("valence", "arousal")


class LabelFileError(ValueError):
    """A label file is malformed; the message names the file and the line."""

    def __init__(self, path: Path, line: int | None, message: str):
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


def read_va_file(path: Path) -> np.ndarray:
    """Parse a label file; invalid values (-5) become NaN."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise LabelFileError(path, None, f"cannot read: {e}") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise LabelFileError(path, 1, "empty file (expected the header 'valence,arousal')")
    header = tuple(h.strip().lower() for h in lines[0].split(","))
    if header != HEADER:
        raise LabelFileError(path, 1, f"wrong header {lines[0].strip()!r} (expected 'valence,arousal')")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            if any(rest.strip() for rest in lines[number - 1:]):
                raise LabelFileError(path, number, "empty line inside the file")
            break
        parts = line.split(",")
        if len(parts) != 2:
            raise LabelFileError(path, number, f"expected 2 values, got {len(parts)}: {line.strip()!r}")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise LabelFileError(path, number, f"non-numeric value: {line.strip()!r}") from None
        for v in values:
            if v != INVALID and not -1.0 <= v <= 1.0:
                raise LabelFileError(path, number, f"value {v} outside [-1, 1] (and not the invalid mark -5)")
        rows.append(values)
    if not rows:
        raise LabelFileError(path, 2, "no label lines after the header")
    out = np.asarray(rows, dtype=np.float32)
    out[out == INVALID] = np.nan
    return out


def write_va_file(path: Path, labels: np.ndarray) -> None:
    """Write [frames, 2] labels (NaN → -5) in the same format."""
    values = np.where(np.isnan(labels), INVALID, labels)
    body = "\n".join(f"{v:.6g},{a:.6g}" for v, a in values)
    Path(path).write_text("valence,arousal\n" + body + "\n", encoding="utf-8")
