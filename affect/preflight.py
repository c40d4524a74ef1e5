"""What `--dry-run` checks before anything runs: weights for every configured backbone, the corpus,
the test list, and every clip (its video found and its header readable, as stage 00 will need).
Nothing is built or written; each finding is one line.

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
    stages = ["visual", "speech"] if stages is None else stages  # [] (a run without them): none
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


SHOWN = 10  # clip findings listed one per line; the rest are counted


def check_clips(cfg: Config) -> list[Check]:
    """Each clip as stage 00 will meet it: found (video, labels, a valid name) and its video's header readable.
    A test clip that stage 08 would refuse (predict.missing=fail) stops the run; other clips are skipped by it."""
    from affect.data.sources import find_sources
    from affect.video.decode import VideoError, probe_video

    root = Path(cfg.corpus.root)
    try:
        sources, problems = find_sources(root, cfg.corpus)
    except Exception as e:  # a malformed clip list: the real run stops on it too
        return [Check("clips", False, str(e))]
    findings = [(p.clip, p.split, f"{p.file}: {p.error}") for p in problems]
    log.info("dry run: opening the videos of %d clips", len(sources))
    opened: dict[Path, str] = {}  # video -> the error ("" when it opens); a _left/_right pair shares one
    for src in sources:
        if src.video_path is None:
            continue
        if src.video_path not in opened:
            try:
                probe_video(src.video_path)
                opened[src.video_path] = ""
            except VideoError as e:
                opened[src.video_path] = str(e)
        if opened[src.video_path]:
            findings.append((src.clip, src.split, opened[src.video_path]))
    counts = {split: sum(s.split == split for s in sources) for split in ("train", "validation", "test")}
    summary = ", ".join(f"{n} {split}" for split, n in counts.items())
    checks = [Check("clips", True, summary + (f"; {len(findings)} would be skipped" if findings else ""))]
    refuse = cfg.predict.missing == "fail"
    for clip, split, detail in findings[:SHOWN]:
        note = " (stage 08 stops on it: predict.missing=fail)" if split == "test" and refuse else ""
        checks.append(Check(f"clip {clip or '?'}" + (f" ({split})" if split else ""), False, detail + note,
                            fatal=bool(note)))
    rest = findings[SHOWN:]
    if rest:
        fatal = refuse and any(split == "test" for _, split, _ in rest)
        checks.append(Check("clips", False, f"{len(rest)} more clip(s) would be skipped: "
                                            f"{', '.join(c for c, _, _ in rest[:20])}", fatal=fatal))
    return checks


def preflight(cfg: Config, stages: list[str]) -> list[Check]:
    """The checks that concern `stages` (the corpus when prepare runs; weights when visual/speech run)."""
    checks = check_corpus(cfg) if "prepare" in stages else []
    if checks and all(c.ok or not c.fatal for c in checks):
        checks += check_clips(cfg)
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
