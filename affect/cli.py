"""The `affect` command: one sub-command per stage, `run` for a range of stages, and `synth`."""
from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

from affect.config import Config, ConfigError, load_config
from affect.config.load import describe
from affect.log import setup_logging
from affect.stages import DESCRIPTIONS, STAGES, RunOptions, StageNotReady, get_stage, stage_names, stage_range
from affect.stages.base import InputError, Stage
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


def build_parser() -> argparse.ArgumentParser:
    stages = "\n".join(f"  {n:<10} {DESCRIPTIONS[n]}" for n in stage_names())
    parser = argparse.ArgumentParser(
        prog="affect", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Continuous valence-arousal recognition from face video and speech.",
        epilog=f"stages (each cached under cache_root and skipped when done):\n{stages}\n\n"
               "other commands:\n  run        a range of stages: affect run --stage prepare --stop-stage faces\n"
               "  status     where each stage stands for a config: affect status -c pipelines/conf/demo.yaml\n"
               "  synth      write a synthetic Aff-Wild2-style corpus\n"
               "  weights    list backbones, fetch their weights: affect weights fetch clip-vit-l14")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in stage_names():
        p = sub.add_parser(name, help=DESCRIPTIONS[name], description=f"Stage {DESCRIPTIONS[name]}.",
                           formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_config_help(name))
        _run_options(p)
    p = sub.add_parser("run", help="run a range of stages", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=_config_help(None))
    p.add_argument("--stage", default=stage_names()[0], help="first stage (name or number)")
    p.add_argument("--stop-stage", default=stage_names()[-1], help="last stage (name or number)")
    _run_options(p)
    p = sub.add_parser("status", help="where each stage stands for a config (reads markers only)",
                       description="One line per stage for this config: done / partial / not run, clips, "
                                   "failures (first error), size, when written, output folder.")
    _config_options(p)
    p = sub.add_parser("weights", help="list backbones and their weights; fetch weights into checkpoints/",
                       description="Backbone weights (DESIGN §5): `list` shows every registered backbone and what "
                                   "checkpoints/<name>/ holds; `fetch NAME...` downloads into checkpoints/<name>/ "
                                   "on a machine with internet, so that nodes without it can run.")
    wsub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    wsub.add_parser("list", help="registered backbones and their checkpoints/<name>/ folders")
    p = wsub.add_parser("fetch", help="download weights into checkpoints/<name>/ (needs internet)")
    p.add_argument("names", nargs="+", metavar="NAME", help="registered backbone names (affect weights list)")
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
    return parser


def run_stages(names: list[str], args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + ([f"device={args.device}"] if args.device else [])
    cfg = load_config(args.config, overrides)
    setup_logging(cfg.log_level)
    opts = RunOptions(overwrite=args.overwrite, dry_run=args.dry_run, limit=args.limit,
                      command=shlex.join(["affect", *sys.argv[1:]]))
    failed = 0
    first: Stage = get_stage(names[0])(cfg)
    for name in names:
        report = first.upstream(name).run(opts)  # one instance per stage, shared as upstream by the later ones
        failed += report.failed
    if failed:
        log.warning("%d clip(s) failed; see errors.csv in the stage folders (affect status lists them)", failed)
    evaluate = first.upstream("evaluate") if "evaluate" in names and not args.dry_run else None
    if evaluate is not None and (evaluate.output.path / "results.csv").is_file():
        from affect.report.summary import score_summary

        sys.stdout.write("\n" + score_summary(evaluate.output.path, cfg.evaluate.splits[0]))
    if args.limit is not None and not args.dry_run:
        log.info("partial run (--limit %d): the same command without --limit completes these folders; "
                 "`affect status` shows where each stage stands", args.limit)
    return 0


def show_status(args: argparse.Namespace) -> int:
    from affect.status import collect, render

    cfg = load_config(args.config, args.overrides)
    sys.stdout.write(render(cfg, collect(cfg)))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 0
    setup_logging("INFO")
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
        if args.command == "weights":
            from affect.backbones.weights import fetch_many, weights_table

            if args.weights_command == "list":
                sys.stdout.write(weights_table())
                return 0
            return 1 if fetch_many(args.names, args.tag) else 0
        return run_stages([args.command], args)
    except (ConfigError, StageNotReady, InputError, KeyError, FileNotFoundError) as e:
        log.error("%s", e.args[0] if isinstance(e, KeyError) else e)
        return 2
    except RuntimeError as e:
        from affect.backbones.weights import WeightsNotFound

        if not isinstance(e, WeightsNotFound):
            raise
        log.error("%s", e)  # names the path to put the file in and the command that fetches it
        return 2


if __name__ == "__main__":
    sys.exit(main())
