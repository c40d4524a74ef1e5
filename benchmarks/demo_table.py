"""Rewrite the README's demo table from a finished run of the demo (stage 09's results).

    make demo && .venv/bin/python benchmarks/demo_table.py                 # rewrites README.md's block
    python benchmarks/demo_table.py --print                                # only print the block

The block between `<!-- demo-table:start -->` and `<!-- demo-table:end -->` gets: the date of
the run (when stage 09 wrote results.csv), the machine this script runs on (pass --machine
when the run was elsewhere), each stage's time from its log.txt, and the score table exactly
as `affect run` prints it at the end (`affect.report.summary.score_summary`, whatever columns
it has), followed by the line naming the submission file. Nothing is typed by hand, so the
README shows what a fresh `make demo` prints, to the printed digits.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "<!-- demo-table:start -->"
END = "<!-- demo-table:end -->"
STAGE_TIME = re.compile(r"^\S+ \S+ INFO\s+\S+: (\w+): (?:ran|partial) in ([\d.]+) s", re.M)


def machine() -> str:
    """CPU model and core count of this machine, and its GPU when torch sees one."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{model}, {os.cpu_count()} CPU cores"
    try:
        import torch

        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return text


def stage_times(stages: list) -> str:
    """`prepare 1.2 s, faces 53.0 s, ...` from the last `ran in` line of each stage's log.txt."""
    parts, total = [], 0.0
    for stage in stages:
        log = stage.output.path / "log.txt"
        found = STAGE_TIME.findall(log.read_text()) if log.is_file() else []
        if found:
            seconds = float(found[-1][1])
            total += seconds
            parts.append(f"{stage.name} {seconds:.1f} s")
    return f"{', '.join(parts)} (total {total:.0f} s)" if parts else "(no stage times in the logs)"


def block(config: list[str], overrides: list[str], where: str) -> str:
    sys.path.insert(0, str(ROOT))
    from affect.config import load_config
    from affect.report import selection
    from affect.report.summary import score_summary
    from affect.stages import get_stage, stage_names

    cfg = load_config(config, overrides)
    evaluate = get_stage("evaluate")(cfg)
    if not evaluate.output.done:
        raise SystemExit(f"demo_table: stage 09 has not finished for {config} ({evaluate.output.path}): run "
                         "`make demo` first")
    results = evaluate.output.path / "results.csv"
    when = dt.datetime.fromtimestamp(results.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    stages = [evaluate.upstream(n) for n in stage_names()]
    predict = evaluate.upstream("predict")
    chosen = selection.choose(predict.output.path, evaluate.output.path,
                              int((predict.manifest["split"] == "test").sum()), cfg.corpus.test_list)
    chosen = selection.publish(chosen, predict.stage_root.parent)
    table = score_summary(evaluate.output.path, cfg.evaluate.splits[0]).rstrip("\n")
    return "\n".join([
        START,
        f"Run finished {when} on {where}; stage times: {stage_times(stages)}.",
        "Written by `benchmarks/demo_table.py` from that run's stage 09 results (`make demo` prints the same "
        "table at its end):",
        "",
        "```text",
        table,
        chosen.line().replace(str(ROOT) + os.sep, ""),
        "```",
        END,
    ])


def rewrite(readme: Path, text: str) -> None:
    old = readme.read_text()
    if START not in old or END not in old:
        raise SystemExit(f"demo_table: {readme} has no {START} ... {END} block")
    head, rest = old.split(START, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(head + text + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", action="append", default=None, help="default: pipelines/conf/demo.yaml")
    parser.add_argument("overrides", nargs="*", help="the overrides the run used (key=value)")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--machine", default="", help="where the run ran (default: this machine)")
    parser.add_argument("--print", action="store_true", help="print the block instead of rewriting the README")
    args = parser.parse_args()
    os.chdir(ROOT)  # the config's relative paths (demo/corpus, features) are the repository's
    text = block(args.config or ["pipelines/conf/demo.yaml"], args.overrides, args.machine or machine())
    if args.print:
        sys.stdout.write(text + "\n")
    else:
        rewrite(args.readme, text)
        sys.stdout.write(f"rewrote the demo table in {args.readme}\n")


if __name__ == "__main__":
    main()
