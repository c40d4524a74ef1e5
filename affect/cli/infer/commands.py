"""The `affect export` and `affect infer` sub-commands (parsers and handlers; affect/cli/__init__.py wires them)."""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

log = logging.getLogger("affect.cli.infer")

EXPORT_HELP = "write a trained model as a bundle (weights, features, settings, model card)"
INFER_HELP = "predict valence/arousal for any videos with a bundle"


def add_parsers(sub: argparse._SubParsersAction, config_options) -> None:
    p = sub.add_parser("export", help=EXPORT_HELP, description=(
        "Write one model of a finished training config (the same -c files and key=value overrides that trained "
        "it) as a bundle: every member's weights as plain state dicts, model spec, normalisation, the feature "
        "sets with backbone, weights tag and sha256, the settings that made the features, the smoothing "
        "windows, and a model card (README.md)."))
    config_options(p)
    p.add_argument("--out", required=True, type=Path, help="the bundle: a folder, or a file ending in .tar")
    p.add_argument("--model", default="fusion", help="fusion (default) | baseline/early | unimodal/<set>")
    p = sub.add_parser("infer", help=INFER_HELP, description=(
        "Run stages 01-05 with exactly the bundle's settings on each video (files, or folders searched "
        "recursively; no labels needed; cached under --cache-root), predict and smooth as the bundle says. "
        "Writes <name>.csv (frame,time_s,valence,arousal,face), <name>.png and summary.csv in --out."))
    p.add_argument("bundle", type=Path, help="a bundle folder or .tar written by `affect export`")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="video files or folders of videos")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--side", choices=("left", "right"), default=None,
                   help="two people in the video: the left or right one (as _left/_right clips of a corpus)")
    p.add_argument("--render", action="store_true", help="also write <name>.mp4: face box, VA gauge and trace, audio")
    p.add_argument("--cache-root", type=Path, default=Path("features"),
                   help="where the per-video stage outputs are cached (default: features; under <it>/infer/)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    p.add_argument("--verbose", action="store_true", help="show the stages' own log lines too")


def run_export(args: argparse.Namespace) -> int:
    from affect.bundle.format import BundleError
    from affect.config import load_config
    from affect.cli.infer.export import export_bundle

    cfg = load_config(args.config, args.overrides)
    try:
        path = export_bundle(cfg, args.out, args.model, command=shlex.join(["affect", *sys.argv[1:]]))
    except BundleError as e:
        log.error("%s", e)
        return 2
    sys.stdout.write(f"{path}\n")
    return 0


def run_infer(args: argparse.Namespace) -> int:
    from affect.bundle.format import BundleError
    from affect.cli.infer.model import InferenceModel
    from affect.cli.infer.run import infer_videos

    try:
        model = InferenceModel(args.bundle, cache_root=args.cache_root, device=args.device)
        rows = infer_videos(model, args.paths, args.out, side=args.side, render=args.render, verbose=args.verbose)
    except BundleError as e:
        log.error("%s", e)
        return 2
    return 1 if any(r["status"] != "ok" for r in rows) else 0
