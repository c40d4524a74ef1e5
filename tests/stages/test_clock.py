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
from clock_media import (FLASHES, FPS, VFR_FLASH_FRAMES, VFR_FLASH_TIMES, beep_onsets, flash_frames,  # noqa: E402
                         make_flash_beep, make_vfr_flash_beep)

OFFSETS = {"both0": (0.0, 0.0), "video_late": (1.0, 0.0), "audio_late": (0.0, 0.5)}
TOLERANCE_S = 0.020


@pytest.fixture(scope="module")
def clock_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("clock") / "corpus"
    for clip, (video, audio) in OFFSETS.items():
        make_flash_beep(root / "videos" / f"{clip}.mp4", video_offset=video, audio_offset=audio)
    make_vfr_flash_beep(root / "videos" / "vfr.mp4")
    ann = root / "annotations" / "VA_Estimation_Challenge"
    ann.mkdir(parents=True)
    (ann / "test_set.txt").write_text("\n".join([*OFFSETS, "vfr"]) + "\n")
    cfg = load_config(overrides=[f"corpus.root={root}", f"cache_root={root.parent / 'cache'}", "audio.vad=energy"])
    prepare = get_stage("prepare")(cfg)
    prepare.run(RunOptions())
    audio = get_stage("audio")(cfg)
    assert audio.run(RunOptions()).failed == 0
    return root, read_manifest(prepare.output.path).set_index("clip"), audio.output.path, cfg


def test_manifest_records_both_stream_starts(clock_run):
    _, manifest, _, _ = clock_run
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
    root, manifest, audio_dir, _ = clock_run
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


def test_variable_frame_rate_frames_take_their_presentation_times(clock_run):
    """100 frames over 6 s (25 fps, then 12.5 fps): the beeps, on real time, land on the flash
    frames' index-clock times once moved by stage 05's frame clock (as speech features are)."""
    from affect.cache.series import Series
    from affect.data.manifest import frame_times_path
    from affect.stages.align import AlignStage

    root, manifest, audio_dir, cfg = clock_run
    row = manifest.loc["vfr"]
    assert row["frame_clock"] == "variable" and row["clock_offset_ms"] > 500 and row["frames"] == 100
    assert 16 < row["fps"] < 18  # the container's average rate, about 100 frames / 6 s
    prepare_dir = Path(get_stage("prepare")(cfg).output.path)
    starts = np.load(frame_times_path(prepare_dir, "vfr"))
    assert starts[[0, 49, 50, 75]] == pytest.approx([0.0, 1.96, 2.0, 4.0])
    assert not frame_times_path(prepare_dir, "both0").exists()  # constant rate: no file
    wave, info = load_wave(audio_dir, "vfr")
    assert len(wave) == round(6.0 * info["sample_rate"])  # the real duration, not frames / average rate (5.88 s)
    beeps = np.asarray(beep_onsets(wave, info["sample_rate"]))
    assert np.abs(beeps - VFR_FLASH_TIMES).max() < TOLERANCE_S  # real time
    assert flash_frames(root / "videos" / "vfr.mp4") == list(VFR_FLASH_FRAMES)
    align = AlignStage(cfg)
    align.prepare_dir = prepare_dir
    moved = align._on_frame_clock(row.rename("vfr").to_frame().T.reset_index(names="clip").iloc[0],
                                  Series(values=np.zeros((len(beeps), 1), np.float32), times=beeps,
                                         mask=np.ones(len(beeps), bool)))
    flash_index_s = np.asarray(VFR_FLASH_FRAMES) / row["fps"]
    assert np.abs(moved.times - flash_index_s).max() < TOLERANCE_S, (moved.times, flash_index_s)
    assert np.abs(beeps - flash_index_s).max() > 0.3  # without the frame clock, frame 75's beep is 0.4 s off
