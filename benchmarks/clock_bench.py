"""How far sounds land from the frames shown with them: the container's clock against the clip's.

Makes (with FFmpeg from imageio-ffmpeg, a dev dependency) videos whose white flashes and 1 kHz
beeps share presentation times: both streams at 0, the video stream 1 s late (as a stream-copy
cut leaves it), the audio stream 0.5 s late, and a variable-frame-rate video (25 fps, then
12.5 fps). For each, the largest |beep onset - flash frame start| in seconds:
- "container clock": audio samples placed from the container's time 0, frames at index / fps
  (what the pipeline did before the clip clock);
- "clip clock": audio from the first frame's presentation time (`affect.audio.extract`), and
  for the variable-rate video the beeps moved onto the frames' index clock
  (`affect.timegrid.to_frame_clock`, as stage 05 moves speech features).

    python benchmarks/clock_bench.py [--out /tmp/clock]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))
from clock_media import (FLASHES, VFR_FLASH_FRAMES, beep_onsets, flash_frames, make_flash_beep,  # noqa: E402
                         make_vfr_flash_beep)

from affect.audio.extract import decode_audio  # noqa: E402
from affect.data.probe import probe_video  # noqa: E402
from affect.timegrid import to_frame_clock  # noqa: E402

CASES = {"both at 0": (0.0, 0.0), "video 1 s late": (1.0, 0.0), "audio 0.5 s late": (0.0, 0.5)}


def worst(beeps: list[float], flashes: np.ndarray) -> float:
    if len(beeps) != len(flashes):
        return float("nan")
    return float(np.abs(np.asarray(beeps) - flashes).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="folder for the generated videos (default: a temp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="clock_"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (video, audio) in CASES.items():
        path = make_flash_beep(out / f"{name.replace(' ', '_')}.mp4", video_offset=video, audio_offset=audio)
        info = probe_video(path)
        flashes = np.asarray(flash_frames(path)) / info.fps
        before = decode_audio(path, 16000, origin=0.0)  # untrimmed: a late beep stays in the waveform
        after = decode_audio(path, 16000)
        rows.append((name, len(FLASHES), worst(beep_onsets(before.wave, 16000), flashes),
                     worst(beep_onsets(after.wave, 16000), flashes)))
    path = make_vfr_flash_beep(out / "variable_rate.mp4")
    info = probe_video(path)
    flashes = np.asarray(flash_frames(path)) / info.fps  # the flash frames on the index clock
    beeps = beep_onsets(decode_audio(path, 16000).wave, 16000)
    moved = to_frame_clock(beeps, info.frame_times, info.fps)
    rows.append(("variable rate (25 -> 12.5 fps)", len(VFR_FLASH_FRAMES), worst(beeps, flashes), worst(list(moved), flashes)))
    print(f"{'video':34s} {'flashes':>7s} {'container clock (s)':>20s} {'clip clock (s)':>15s}")
    for name, n, before, after in rows:
        print(f"{name:34s} {n:7d} {before:20.4f} {after:15.4f}")


if __name__ == "__main__":
    main()
