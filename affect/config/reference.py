"""The configuration reference in docs/configuration.md, generated from the config dataclasses.

    python -m affect.config.reference            # rewrites the block in docs/configuration.md
    python -m affect.config.reference --check    # exit 1 when the block is out of date

The block lists every key with its type, default and comment, one section per stage, exactly as
`affect <stage> --help` shows them; tests/test_docs.py fails when a key is added without rerunning this.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from affect.config.load import describe
from affect.config.schema import Config

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def reference() -> str:
    """Markdown: run-wide keys, then one section per config section, in the order of `Config`'s fields."""
    cfg = Config()
    top = [f for f in dataclasses.fields(cfg) if not dataclasses.is_dataclass(getattr(cfg, f.name))]
    run_wide = [line.strip() for line in describe(cfg, "") if line.strip().split(":")[0] in {f.name for f in top}]
    parts = ["### Run-wide", "", "```text", *run_wide, "```"]
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        if dataclasses.is_dataclass(section):
            parts += ["", f"### {f.name}", "", "```text", *(line.strip() for line in describe(section, f"{f.name}.")),
                      "```"]
    return "\n".join(parts)


def block() -> str:
    return f"{START}\n{reference()}\n{END}"


def current(path: Path = DOC) -> str:
    text = path.read_text()
    return text[text.index(START): text.index(END) + len(END)]


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    if "--check" in argv:
        return 0 if current() == block() else 1
    DOC.write_text(text[: text.index(START)] + block() + text[text.index(END) + len(END):])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
