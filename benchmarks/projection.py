"""Projected device-hours for all of Aff-Wild2 from measured throughputs (pure arithmetic).

Aff-Wild2 (ABAW VA track), in round figures: about 2.8 M video frames, about 26 h of audio.
Stage 02 at `visual.sample=grid` embeds 4 frames per second of video (~374k crops); at
`sample=all`, every frame (2.8 M). Training: fusion windows of W=64 steps at the 0.25 s grid with
stride 32 (8 s), so one epoch over all the labelled video is about `VIDEO_SECONDS / 8` windows
(an upper bound: only the training split is iterated).
"""
from __future__ import annotations

AFFWILD2_FRAMES = 2_800_000
AFFWILD2_AUDIO_HOURS = 26.0
AFFWILD2_GRID_CROPS = 374_000
VIDEO_SECONDS = AFFWILD2_AUDIO_HOURS * 3600
EPOCH_WINDOWS = round(VIDEO_SECONDS / 8.0)  # W=64 x 0.25 s windows, stride 32 steps = 8 s


def project(results: list[dict]) -> list[dict]:
    """One row per measured figure: stage, what, throughput (text) and device-hours for Aff-Wild2.

    `results` are the scripts' RESULT lines: {"stage": "faces", "frames_per_s": ...},
    {"stage": "visual", "backbone": ..., "crops_per_s": ...}, {"stage": "speech", "backbone": ...,
    "rtf": ...} (seconds per second of audio), {"stage": "train", "windows_per_s": ...}.
    Training rows give hours per epoch and epochs per hour.
    """
    rows = []
    for r in results:
        stage = r["stage"]
        if stage == "faces":
            fps = float(r["frames_per_s"])
            rows.append({"stage": "faces", "what": f"{AFFWILD2_FRAMES / 1e6:g} M frames",
                         "throughput": f"{fps:.1f} frames/s", "hours": AFFWILD2_FRAMES / fps / 3600})
        elif stage == "visual":
            rate = float(r["crops_per_s"])
            for name, crops in (("grid", AFFWILD2_GRID_CROPS), ("all", AFFWILD2_FRAMES)):
                rows.append({"stage": f"visual {r['backbone']}", "what": f"sample={name}: {crops / 1e3:,.0f}k crops",
                             "throughput": f"{rate:.1f} crops/s", "hours": crops / rate / 3600})
        elif stage == "speech":
            rtf = float(r["rtf"])
            rows.append({"stage": f"speech {r['backbone']}", "what": f"{AFFWILD2_AUDIO_HOURS:g} h of audio",
                         "throughput": f"RTF {rtf:.4f} ({1 / rtf:.0f}x real time)",
                         "hours": AFFWILD2_AUDIO_HOURS * rtf})
        elif stage == "train":
            ws = float(r["windows_per_s"])
            hours = EPOCH_WINDOWS / ws / 3600
            rows.append({"stage": "train fusion", "what": f"1 epoch = {EPOCH_WINDOWS:,} windows",
                         "throughput": f"{ws:.0f} windows/s ({1 / hours:.1f} epochs/h)", "hours": hours})
        else:
            raise ValueError(f"unknown stage in a RESULT line: {stage!r}")
    return rows


def table(rows: list[dict], device: str) -> str:
    """Markdown table of `project`'s rows."""
    out = [f"| stage | Aff-Wild2 | measured on {device} | projected device-hours |", "|---|---|---|---|"]
    out += [f"| {r['stage']} | {r['what']} | {r['throughput']} | {r['hours']:.2f} |" for r in rows]
    return "\n".join(out)
