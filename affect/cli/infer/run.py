"""`affect infer BUNDLE PATH... --out DIR`: predictions for every video given (files or folders).

Per video, in `DIR`: `<name>.csv` (frame, time_s, valence, arousal, face), `<name>.png` (the VA
trace) and with `--render` `<name>.mp4` (face box, VA gauge and trace, audio kept); `<name>` is
the video's file name without its extension (`-2`, `-3`... when two videos share it). Then
`summary.csv`: one row per video (ok or failed, frames, face coverage, means, seconds, the
reason of a failure). One INFO line per video; a bad video (unreadable, no face at all, a
model that reads only the voice and no audio track...) gets one ERROR line naming the file
and the others go on. A bundle that cannot be used here stops the run before any video.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from affect.data.sources import VIDEO_SUFFIXES
from affect.cli.infer.corpus import VideoFailed
from affect.cli.infer.model import InferenceModel, VideoResult

log = logging.getLogger(__name__)
OWN_LOGGERS = ("affect.cli.infer", "affect.bundle")


def find_videos(paths: Iterable[str | Path]) -> tuple[list[Path], list[str]]:
    """Video files: each file given, and every video below each folder given (sorted); and problems."""
    videos: list[Path] = []
    problems: list[str] = []
    for p in map(Path, paths):
        if p.is_file():
            videos.append(p)
        elif p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES)
            if not found:
                problems.append(f"{p}: no video files ({', '.join(VIDEO_SUFFIXES)}) in this folder")
            videos += found
        else:
            problems.append(f"{p}: no such file or folder")
    return videos, problems


@contextmanager
def quiet_stages(verbose: bool) -> Iterator[None]:
    """Unless verbose, the console shows only this package's lines (the stages still log to their log.txt)."""
    if verbose:
        yield
        return

    def own(record: logging.LogRecord) -> bool:
        return record.name.startswith(OWN_LOGGERS) or record.levelno >= logging.CRITICAL

    handlers = [h for h in logging.getLogger().handlers if not isinstance(h, logging.FileHandler)]
    for h in handlers:
        h.addFilter(own)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(own)


def _row(video: Path, name: str, side: str | None, result: VideoResult | None, seconds: float,
         error: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"video": str(video), "name": name, "side": side or "", "seconds": round(seconds, 2)}
    if result is None:
        return {**row, "status": "failed", "note": error}
    t = result.table
    return {**row, "status": "ok", "frames": result.frames, "fps": result.fps, "duration_s": result.duration,
            "face_frames": float(t["face"].mean()), "audio": result.has_audio,
            "valence_mean": float(t["valence"].mean()), "arousal_mean": float(t["arousal"].mean()),
            "note": "; ".join(result.notes)}


def write_outputs(result: VideoResult, out: Path, name: str, render: bool) -> None:
    from affect.bundle.outputs import plot_trace, write_video_csv

    write_video_csv(out / f"{name}.csv", result.table)
    plot_trace(out / f"{name}.png", result.table, f"{result.video.name}" + (f" [{result.side}]" if result.side else ""))
    if render:
        from affect.video.annotate import render_annotated

        n = len(result.table)
        boxes = np.full((n, 4), np.nan, np.float32)
        with np.load(result.faces_file) as z:
            boxes[: min(n, len(z["box"]))] = z["box"][:n]
        render_annotated(result.video, out / f"{name}.mp4", result.table[["valence", "arousal"]].to_numpy(),
                         result.table["face"].to_numpy().astype(bool), boxes, result.fps,
                         result.table["time_s"].to_numpy())


def infer_videos(model: InferenceModel, paths: Sequence[str | Path], out: Path, side: str | None = None,
                 render: bool = False, verbose: bool = False) -> list[dict[str, Any]]:
    """Predict every video; returns the summary rows (also `out/summary.csv`)."""
    from affect.bundle.outputs import SUMMARY, unique_names, write_summary

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    videos, problems = find_videos(paths)
    for p in problems:
        log.error("%s", p)
    log.info("infer: %s on %d video(s) -> %s", model.bundle.describe(), len(videos), out)
    rows = [{"video": p.split(":", 1)[0], "status": "failed", "note": p} for p in problems]
    names = unique_names(videos)
    with quiet_stages(verbose):
        for i, (video, name) in enumerate(tqdm(list(zip(videos, names)), desc="infer", unit="video", disable=None), 1):
            start = time.perf_counter()
            try:
                result = model.run_video(video, side)
                write_outputs(result, out, name, render)
            except VideoFailed as e:
                log.error("[%d/%d] %s", i, len(videos), e)
                rows.append(_row(video, name, side, None, time.perf_counter() - start, str(e)))
                continue
            except Exception as e:  # BundleError (this machine differs) stops the run; anything else is this video's
                from affect.bundle.format import BundleError

                if isinstance(e, BundleError):
                    raise
                log.error("[%d/%d] %s: %s: %s", i, len(videos), video, type(e).__name__, e)
                log.debug("%s", video, exc_info=True)
                rows.append(_row(video, name, side, None, time.perf_counter() - start, f"{type(e).__name__}: {e}"))
                continue
            seconds = time.perf_counter() - start
            t = result.table
            log.info("[%d/%d] %s: %d frames (%.1f s), face in %.0f%% of frames, mean V %+.2f A %+.2f -> %s.csv "
                     "(%.1f s)%s", i, len(videos), video, result.frames, result.duration, 100 * t["face"].mean(),
                     t["valence"].mean(), t["arousal"].mean(), out / name, seconds,
                     f"; {'; '.join(result.notes)}" if result.notes else "")
            rows.append({**_row(video, name, side, result, seconds),
                         **{f"seconds_{k}": round(v, 3) for k, v in result.timings.items()},
                         **{f"cpu_{k}": round(v, 3) for k, v in result.cpu.items()}})
    write_summary(out / SUMMARY, rows)
    failed = sum(r["status"] != "ok" for r in rows)
    log.info("infer: %d of %d video(s) predicted, %d failed; summary %s", len(rows) - failed, len(rows), failed,
             out / SUMMARY)
    return rows
