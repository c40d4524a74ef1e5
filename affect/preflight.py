"""What `--dry-run` checks before anything runs: weights for every configured backbone, the corpus,
the test list. Nothing is built or written; each finding is one line.

    problems = [c for c in preflight(cfg, names) if not c.ok]
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from affect.config import Config

log = logging.getLogger(__name__)


@dataclass
class Check:
    what: str  # e.g. "weights resnet50-vggface2", "corpus", "test list"
    ok: bool
    detail: str
    fatal: bool = True  # False: a note (the run goes on, e.g. no test list)


def config_backbones(cfg: Config, stages: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(stage, backbone, weights) for every backbone the config's visual and speech stages build."""
    stages = stages or ["visual", "speech"]
    out = []
    if "visual" in stages:
        out += [("visual", n, cfg.visual.weights_for.get(n, cfg.visual.weights)) for n in cfg.visual.backbones]
    if "speech" in stages:
        out += [("speech", n, cfg.speech.weights) for n in cfg.speech.backbones]
    return out


def check_weights(cfg: Config, stages: list[str] | None = None) -> list[Check]:
    from affect.backbones.weights import probe_weights

    checks = []
    for stage, name, weights in config_backbones(cfg, stages):
        try:
            ok, detail = probe_weights(name, weights)
        except KeyError as e:  # an unknown backbone name
            ok, detail = False, f"{stage}.backbones: {e.args[0]}"
        checks.append(Check(f"weights {name}", ok, detail))
    return checks


def check_corpus(cfg: Config) -> list[Check]:
    root = Path(cfg.corpus.root)
    c = cfg.corpus
    if not root.is_dir():
        return [Check("corpus", False, f"corpus root {root.resolve()} does not exist or is not a folder "
                                       "(corpus.root=<folder>)")]
    if c.layout == "csv":
        listing = root / c.csv
        if not c.csv or not listing.is_file():
            return [Check("corpus", False, f"corpus.layout=csv: the clip list {listing} does not exist (corpus.csv)")]
        return [Check("corpus", True, f"{listing}")]
    checks = []
    for what, sub in (("videos", c.videos_dir), ("annotations", c.annotations_dir)):
        folder = root / sub
        checks.append(Check(f"corpus {what}", folder.is_dir(),
                            str(folder) if folder.is_dir() else f"{folder} is not a folder (corpus.{what}_dir)"))
    if c.test_list:
        path = root / c.test_list
        if path.is_file():
            names = [n for n in path.read_text().splitlines() if n.strip()]
            checks.append(Check("test list", True, f"{path}: {len(names)} clips"))
        else:
            checks.append(Check("test list", False, f"{path} does not exist (corpus.test_list): no test split, so "
                                                    "no submission file will be written", fatal=False))
    else:
        checks.append(Check("test list", False, "corpus.test_list is empty: no test split, no submission file",
                            fatal=False))
    return checks


def preflight(cfg: Config, stages: list[str]) -> list[Check]:
    """The checks that concern `stages` (the corpus when prepare runs; weights when visual/speech run)."""
    checks = check_corpus(cfg) if "prepare" in stages else []
    checks += check_weights(cfg, [s for s in ("visual", "speech") if s in stages])
    return checks


def log_checks(checks: list[Check]) -> int:
    """One line per check; returns how many would stop the run."""
    for c in checks:
        if c.ok:
            log.info("dry run: %s: ok (%s)", c.what, c.detail)
        elif c.fatal:
            log.error("dry run: %s: %s", c.what, c.detail)
        else:
            log.warning("dry run: %s: %s", c.what, c.detail)
    return sum(not c.ok and c.fatal for c in checks)
