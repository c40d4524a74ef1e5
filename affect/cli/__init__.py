"""The `affect` command: one sub-command per stage, `run` for a range of stages, and `synth`."""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from affect.config import Config, ConfigError, load_config
from affect.config.load import describe
from affect.log import new_run, setup_logging
from affect.stages import DESCRIPTIONS, STAGES, RunOptions, StageNotReady, get_stage, stage_names, stage_range
from affect.stages.base import InputError, Stage, log_stop
from affect.synth.variants import DEFAULT as DEFAULT_CUES, LAYOUTS as CUE_LAYOUTS

log = logging.getLogger("affect")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", action="append", default=[], metavar="FILE",
                        help="YAML config file(s), merged in order (e.g. pipelines/conf/demo.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. faces.size=112")


def _run_options(parser: argparse.ArgumentParser) -> None:
    _config_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="recompute even if the output exists")
    parser.add_argument("--dry-run", action="store_true", help="only say what would run")
    parser.add_argument("--limit", type=_positive, default=None, metavar="N",
                        help="a partial run: every stage after prepare takes the same N clips (balanced across "
                             "splits); a later run without --limit completes the same folders")
    parser.add_argument("--device", default=None, help="auto | cpu | cuda | cuda:N (default: config's device, auto)")
    parser.add_argument("--keep-going", action="store_true",
                        help="when a stage cannot run, still run the later stages that do not need it "
                             "(exit code 2 all the same); failed clips never stop a run")


def _config_help(stage: str | None) -> str:
    cfg = Config()
    lines = ["config keys (key=value on the command line) with their defaults:"]
    lines += describe(cfg.corpus, "corpus.")
    lines += [line for line in describe(cfg, "") if line.split(":")[0].strip() in ("cache_root", "device", "seed", "log_level")]
    for name in ([stage] if stage else stage_names()):
        section = getattr(cfg, name, None)
        if section is not None and name != "corpus":
            lines += describe(section, f"{name}.")
    return "\n".join(lines)


EXIT_CODES = ("exit codes: 0 every clip done; 1 the run finished but some clips failed (each stage's errors.csv "
              "names them); 2 a stage could not run (config, corpus, weights, a missing earlier stage), or "
              "--dry-run found such a problem")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="affect", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Continuous valence-arousal recognition from face video and speech. The stage commands "
                    "(00-09) are cached under cache_root and skipped when done.",
        epilog="examples:\n  affect run -c pipelines/conf/demo.yaml\n"
               "  affect run -c pipelines/conf/demo.yaml --stage prepare --stop-stage faces\n"
               "  affect status -c pipelines/conf/demo.yaml\n  affect where -c pipelines/conf/demo.yaml\n"
               "  affect export -c pipelines/conf/demo.yaml --out model.bundle\n"
               "  affect infer model.bundle VIDEO_OR_FOLDER... --out DIR\n\n"
               + EXIT_CODES)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in stage_names():
        p = sub.add_parser(name, help=DESCRIPTIONS[name], description=f"Stage {DESCRIPTIONS[name]}.",
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_config_help(name))
        _run_options(p)
    p = sub.add_parser("run", help="run a range of stages", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=EXIT_CODES + "\n\n" + _config_help(None))
    p.add_argument("--stage", default=stage_names()[0], help="first stage (name or number)")
    p.add_argument("--stop-stage", default=stage_names()[-1], help="last stage (name or number)")
    _run_options(p)
    p = sub.add_parser("status", help="where each stage stands for a config (reads markers only)",
                       description="One line per stage for this config: done / partial / not run, clips, "
                                   "failures (first error), size, when written, output folder.")
    _config_options(p)
    p = sub.add_parser("where", help="the report and the submission file to upload for a config (reads only)",
                       description="Where a config's results are: the report, the model chosen by the selection "
                                   "rule and its submission file, the copy in <cache_root>/<corpus>/latest/.")
    _config_options(p)
    p = sub.add_parser("weights", help="list backbones and their weights; fetch weights into checkpoints/",
                       description="Backbone weights: `list` shows every registered backbone and what "
                                   "checkpoints/<name>/ holds; `fetch NAME...` (or `fetch -c CONFIG`: every "
                                   "backbone the config uses) downloads into checkpoints/<name>/ on a machine with "
                                   "internet, so that nodes without it can run.")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    wsub.add_parser("list", help="registered backbones and their checkpoints/<name>/ folders")
    p = wsub.add_parser("fetch", help="download weights into checkpoints/<name>/ (needs internet)")
    p.add_argument("names", nargs="*", metavar="NAME", help="registered backbone names (affect weights list)")
    p.add_argument("-c", "--config", action="append", default=[], metavar="FILE",
                   help="fetch every backbone these config file(s) use (visual.backbones, speech.backbones)")
    p.add_argument("--tag", default="default", help="a pretrained tag of the backbone (default: its registered one)")
    p = sub.add_parser("synth", help="write a synthetic Aff-Wild2-style corpus",
                       description="Write a synthetic Aff-Wild2-style corpus (videos with audio, labels, latent truth).")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--clips", type=int, default=6, help="number of clips (default: 6)")
    p.add_argument("--seconds", type=float, default=20.0, help="seconds per video (default: 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--snr-db", type=float, default=10.0, help="speech-to-noise ratio of the audio (default: 10)")
    p.add_argument("--cropped-aligned", action="store_true", help="also write cropped_aligned/ face crops")
    p.add_argument("--cues", default=DEFAULT_CUES, choices=list(CUE_LAYOUTS), metavar="NAME",
                   help="cue layout: which face/voice cues carry valence and arousal (affect/synth/variants.py; "
                        f"default: {DEFAULT_CUES}; others: {', '.join(list(CUE_LAYOUTS)[1:])})")
    from affect.cli.infer.commands import add_parsers

    add_parsers(sub, _config_options)
    return parser


def run_stages(names: list[str], args: argparse.Namespace) -> int:
    """Run `names` in order; returns the exit code (0 every clip done, 1 some clips failed, 2 a stage could not run)."""
    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    cfg = load_config(args.config, overrides)
    setup_logging(cfg.log_level)
    opts = RunOptions(overwrite=args.overwrite, dry_run=args.dry_run, limit=args.limit,
                      command=shlex.join(["affect", *sys.argv[1:]]))
    blocking = 0
    if args.dry_run:
        from affect.preflight import log_checks, preflight

        blocking = log_checks(preflight(cfg, names))
    first: Stage = get_stage(names[0])(cfg)
    broken: list[str] = []
    reports = []
    for name in names:
        stage = first.upstream(name)  # one instance per stage, shared as upstream by the later ones
        needs = [b for b in broken if b in {s.name for s in stage.upstream_stages()}]
        if needs:
            log.error("%s: not run: it needs %s, which could not run", name, ", ".join(needs))
            broken.append(name)
            continue
        try:
            reports.append(stage.run(opts))
        except Exception as e:
            if not getattr(args, "keep_going", False):
                raise
            log_stop(name, e)
            broken.append(name)
    if args.dry_run:
        return 2 if blocking else 0
    failed = _failed_clips(reports)
    for stage, (clips, path) in failed.items():
        log.warning("%s: %d clip(s) failed: %s (%s)", stage, len(clips), ", ".join(clips[:5]) + (" ..." if len(clips) > 5
                    else ""), path)
    evaluate = first.upstream("evaluate") if "evaluate" in names and "evaluate" not in broken else None
    if evaluate is not None and (evaluate.output.path / "results.csv").is_file():
        from affect.report.summary import score_summary

        sys.stdout.write("\n" + score_summary(evaluate.output.path, cfg.evaluate.splits[0]))
    if args.limit is not None:
        log.info("partial run (--limit %d): the same command without --limit completes these folders; "
                 "`affect status` shows where each stage stands", args.limit)
    if {"predict", "evaluate"} & set(names) and not {"predict", "evaluate"} & set(broken):
        try:
            line = _selection(first, publish=args.limit is None).line()
        except (InputError, OSError, ValueError, KeyError) as e:  # the run itself went through: say why, go on
            line = f"no submission file to upload: {e}"
        sys.stdout.write(line + "\n")
    if broken:
        log.error("stage(s) that could not run: %s", ", ".join(broken))
        return 2
    return 1 if failed else 0


def _failed_clips(reports: list) -> dict[str, tuple[list[str], Path]]:
    """Stage -> (failed clips, its errors.csv), for every stage of the run (also those done before)."""
    import pandas as pd

    failed = {}
    for report in reports:
        path = Path(report.path) / "errors.csv"
        if path.is_file():
            rows = pd.read_csv(path, dtype=str, keep_default_na=False)
            duplicate = rows.get("error", pd.Series("", index=rows.index)).str.startswith("duplicate clip id")
            lost = set(rows.loc[~duplicate, "clip"]) if "clip" in rows else set()
            clips = sorted({c if c in lost or not d else f"{c} (a second row with this id; the first was used)"
                            for c, d in zip(rows.get("clip", []), duplicate) if c}) or [f"{len(rows)} row(s)"]
            failed[report.stage] = (clips, path)
    return failed


def _selection(first: Stage, publish: bool):
    """The submission file to upload for this config (copied to <cache_root>/<corpus>/latest/ when `publish`)."""
    from affect.report import selection

    predict = first.upstream("predict")
    if not predict.output.done:
        return selection.Selection(reason="stage 08 (predict) has not finished for this config"
                                          + (" (a --limit run is partial)" if predict.output.partial() else ""))
    from affect.data.manifest import read_rejected
    from affect.data.sources import missing_test_list

    evaluate = first.upstream("evaluate")
    manifest = predict.manifest
    rejected = read_rejected(first.upstream("prepare").output.path)
    missing = missing_test_list(Path(first.cfg.corpus.root), first.cfg.corpus)
    chosen = selection.choose(predict.output.path, evaluate.output.path if evaluate.output.done else None,
                              int((manifest["split"] == "test").sum()), str(missing) if missing else "",
                              list(rejected.loc[rejected["split"] == "test", "clip"]))
    return selection.publish(chosen, predict.stage_root.parent) if publish else chosen


def show_where(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    first = get_stage("evaluate")(cfg)
    report = first.output.path / "report.md"
    sys.stdout.write(f"report: {report}" + ("" if first.output.done else " (stage 09 has not finished)") + "\n")
    chosen = _selection(first, publish=False)
    sys.stdout.write(chosen.line() + "\n")
    if not chosen.reason:
        from affect.report.selection import read_selected

        latest = read_selected(first.stage_root.parent)
        if latest and latest.get("source") == chosen.source:
            sys.stdout.write(f"its copy: {latest['path']}\n")
        sys.stdout.write(f"rule: {chosen.rule}\n")
    return 0


def show_status(args: argparse.Namespace) -> int:
    from affect.cli.status import collect, render

    cfg = load_config(args.config, args.overrides)
    sys.stdout.write(render(cfg, collect(cfg)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 0
    setup_logging("INFO")
    new_run()  # each warning once per command
    with _terminate_as_interrupt():
        return _command(args)


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a scheduler's kill, `timeout`) stops a run as Ctrl-C does: the stage logs it, the exit code is 130."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        def interrupt(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "synth":
            from affect.synth.corpus import generate_corpus

            record = generate_corpus(args.out, clips=args.clips, seconds=args.seconds, seed=args.seed,
                                     cropped_aligned=args.cropped_aligned, snr_db=args.snr_db, cues=args.cues)
            log.info("synthetic corpus written to %s (%d clips, label ceiling CCC %s)", args.out,
                     len(record["clips"]), record.get("ceiling"))
            return 0
        if args.command == "run":
            return run_stages(stage_range(args.stage, args.stop_stage), args)
        if args.command == "status":
            return show_status(args)
        if args.command == "where":
            return show_where(args)
        if args.command in ("export", "infer"):
            from affect.cli.infer import commands

            return commands.run_export(args) if args.command == "export" else commands.run_infer(args)
        if args.command == "weights":
            return weights_command(args)
        return run_stages([args.command], args)
    except Exception as e:  # one line for a user's error (weights: the path and the fetch command), else a traceback
        log_stop(args.command, e)
        return 2
    except KeyboardInterrupt:
        log.error("%s: interrupted", args.command)
        return 130


def weights_command(args: argparse.Namespace) -> int:
    from affect.backbones.weights import fetch_many, weights_table

    if args.weights_command == "list":
        sys.stdout.write(weights_table())
        return 0
    names = list(args.names)
    if args.config:
        from affect.backbones.weights import weights_kind
        from affect.preflight import config_backbones

        for _, name, weights in config_backbones(load_config(args.config, [])):
            if weights_kind(name) == "fetch" and name not in names:
                names.append(name)
            elif name not in names:
                log.info("%s: nothing to fetch (%s)", name, weights_kind(name))
    if not names:
        raise ConfigError("affect weights fetch: name backbones (affect weights list) or a config (-c FILE)")
    return 1 if fetch_many(names, args.tag) else 0

