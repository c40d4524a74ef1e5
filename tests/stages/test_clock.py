"""One clock: clip time 0 is the first video frame; audio is cut or padded to it (stages 00 and 03).

Videos made with FFmpeg whose white flashes and 1 kHz beeps share presentation times, once
with the video stream starting 1 s after the audio stream (as a stream-copy cut leaves it),
once with the audio stream starting 0.5 s late, once with both at 0. In stage 03's waveform
every beep must start within 20 ms of its flash's frame on the clip clock.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from affect.audio.store import load_wave
from affect.config import load_config
from affect.data.manifest import read_manifest
from affect.stages import RunOptions, get_stage
from affect.timegrid import Grid, frame_times

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from clock_media import FLASHES, FPS, beep_onsets, flash_frames, make_flash_beep  # noqa: E402

OFFSETS = {"both0": (0.0, 0.0), "video_late": (1.0, 0.0), "audio_late": (0.0, 0.5)}
TOLERANCE_S = 0.020


@pytest.fixture(scope="module")
def clock_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("clock") / "corpus"
    for clip, (video, audio) in OFFSETS.items():
        make_flash_beep(root / "videos" / f"{clip}.mp4", video_offset=video, audio_offset=audio)
    ann = root / "annotations" / "VA_Estimation_Challenge"
    ann.mkdir(parents=True)
    (ann / "test_set.txt").write_text("\n".join(OFFSETS) + "\n")
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={root.parent / 'cache'}", "audio.vad=energy"])
    prepare = get_stage("prepare")(cfg)
    prepare.run(RunOptions())
    audio = get_stage("audio")(cfg)
    assert audio.run(RunOptions()).failed == 0
    return root, read_manifest(prepare.output.path).set_index("clip"), audio.output.path


def test_manifest_records_both_stream_starts(clock_run):
    _, manifest, _ = clock_run
    assert manifest.loc["video_late", "video_start"] == pytest.approx(1.0)
    assert manifest.loc["video_late", "audio_start"] == pytest.approx(0.0, abs=0.07)  # AAC priming at most
    assert manifest.loc["audio_late", "video_start"] == pytest.approx(0.0)
    assert manifest.loc["audio_late", "audio_start"] == pytest.approx(0.5, abs=0.07)
    for clip in OFFSETS:  # a constant-rate video: the decoder's count is the header's, the clock is index / fps
        row = manifest.loc[clip]
        assert row["frames"] == row["video_frames"] == row["header_frames"] == 100
        assert row["frame_clock"] == "constant" and row["clock_offset_ms"] < 1


@pytest.mark.parametrize("clip", list(OFFSETS))
def test_beeps_on_their_flashes(clock_run, clip):
    root, manifest, audio_dir = clock_run
    wave, info = load_wave(audio_dir, clip)
    rate = info["sample_rate"]
    assert len(wave) == round(manifest.loc[clip, "frames"] / FPS * rate)  # the clip's duration from its first frame
    frames = flash_frames(root / "videos" / f"{clip}.mp4")
    assert len(frames) == len(FLASHES)
    flash_s = frame_times(int(manifest.loc[clip, "frames"]), FPS)[frames] - 0.5 / FPS  # the frames' start
    beeps = np.asarray(beep_onsets(wave, rate))
    assert len(beeps) == len(FLASHES), beeps
    assert np.abs(beeps - flash_s).max() < TOLERANCE_S, (clip, beeps, flash_s)
    grid = Grid(0.01)  # and on a 10 ms grid: the same step, or the next one
    assert np.abs(grid.index(beeps) - grid.index(flash_s)).max() <= 1
