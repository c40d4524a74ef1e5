"""The README and docs/: short front door, every relative link resolves (anchors too), no text points at
references a user cannot open, the configuration reference is current, the site builds."""
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from affect.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted(ROOT.glob("*/README.md"))]
# pages that other parts of the project add; a link to one is checked as soon as the file exists
ADDED_LATER = {"docs/protocol.md", "docs/inference.md", "docs/time-and-data.md", "docs/audio.md", "docs/fusion.md"}
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
INTERNAL = re.compile(r"DESIGN(\.md| ?§)|§ ?\d|\bissues? #?\d+|\bhelpers?\b|\bsessions?\b", re.I)


def slug(heading: str) -> str:
    """The anchor mkdocs (and GitHub, for these headings) gives a heading."""
    text = re.sub(r"[^\w\s-]", "", re.sub(r"`", "", heading)).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+?)\s*$", text, re.M)}


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold no links
    return [m.group(1) for m in LINK.finditer(text)]


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 300
    for needed in ("make demo", "make test", "<!-- demo-table:start -->", "<!-- demo-table:end -->",
                   "source .venv/bin/activate", "resnet50-vggface2", "senet50-vggface2", "train.cv=true"):
        assert any(needed in line for line in lines), needed


def test_every_relative_link_resolves():
    checked = 0
    for page in PAGES:
        for target in links(page):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            rel = file.relative_to(ROOT).as_posix() if file.is_relative_to(ROOT) else str(file)
            if not file.exists() and rel in ADDED_LATER:
                continue
            assert file.exists(), f"{page.relative_to(ROOT)}: link to {target}: no such file"
            if anchor and file.suffix == ".md":
                assert anchor in anchors(file), f"{page.relative_to(ROOT)}: link to {target}: no such heading"
            checked += 1
    assert checked > 30


def test_no_text_points_at_references_a_user_cannot_open():
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in PAGES}
    parser = build_parser()
    texts["affect --help"] = parser.format_help()
    subs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subs.choices.items():
        texts[f"affect {name} --help"] = sub.format_help()
        for action in sub._actions:
            if action.__class__.__name__ == "_SubParsersAction":
                texts.update({f"affect {name} {n} --help": p.format_help() for n, p in action.choices.items()})
    assert "affect weights --help" in texts and "affect weights fetch --help" in texts
    found = {where: m.group(0) for where, text in texts.items() if (m := INTERNAL.search(text))}
    assert not found


def test_configuration_reference_is_current():
    from affect.config.reference import block, current

    assert current() == block(), "a config key changed: run `python -m affect.config.reference`"


def test_demo_table_script_rewrites_only_its_block(tmp_path):
    spec = importlib.util.spec_from_file_location("demo_table", ROOT / "benchmarks" / "demo_table.py")
    demo_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo_table)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{demo_table.START}\nold table\n{demo_table.END}\nrest\n")
    demo_table.rewrite(readme, f"{demo_table.START}\nnew table\n{demo_table.END}")
    assert readme.read_text() == f"intro\n{demo_table.START}\nnew table\n{demo_table.END}\nrest\n"
    log = tmp_path / "log.txt"
    log.write_text("2026-12-06 10:00:00,000 INFO    affect.stages.base: faces: ran in 12.5 s (2 processed, 0 failed)\n")
    stage = type("S", (), {"name": "faces", "output": type("O", (), {"path": tmp_path})()})()
    assert demo_table.stage_times([stage]) == "faces 12.5 s (total 12 s)"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
                    reason="mkdocs-material is not installed")
def test_docs_site_builds_strict(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120, env={"NO_MKDOCS_2_WARNING": "1",
                                                                                      "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "site" / "stages" / "index.html").is_file()
