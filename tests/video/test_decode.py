from pathlib import Path

import av
import numpy as np
import pytest

from affect.video.decode import VideoError, VideoReader, iter_frames, output_size, probe_video
from affect.video.encode import write_video


def flat_frames(n: int, w: int = 64, h: int = 48):
    """Frame i is a flat grey of level 10 * i (lossy codecs keep flat areas almost exact)."""
    for i in range(n):
        yield np.full((h, w, 3), (10 * i) % 256, np.uint8)


def corrupt_png_avi(path: Path, n: int, bad: int) -> Path:
    """A lossless PNG-in-AVI video whose frame `bad` has garbage in place of its image data."""
    write_video(path, flat_frames(n), codec="png")
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data)) if data[i:i + 4] == b"\x89PNG"]
    assert len(starts) == n
    for k in range(starts[bad], starts[bad] + 60):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def test_batches_cover_every_frame_in_order(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, flat_frames(23), fps=25)
    got = list(iter_frames(path, batch_size=8))
    assert [s for s, _ in got] == [0, 8, 16] and [len(f) for _, f in got] == [8, 8, 7]
    frames = np.concatenate([f for _, f in got])
    assert frames.shape == (23, 48, 64, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(frames.mean(axis=(1, 2, 3)), 10 * np.arange(23), atol=3)
    info = probe_video(path)
    assert (info.width, info.height, info.fps) == (64, 48, 25.0) and not info.scaled


def test_downscale_keeps_original_frames_and_maps_back(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, flat_frames(5, w=320, h=240))
    reader = VideoReader(path, batch_size=4, max_side=160, keep_full=True)
    batches = list(reader)
    assert batches[0].frames.shape == (4, 120, 160, 3) and batches[0].full.shape == (4, 240, 320, 3)
    assert reader.info.scale_x == 0.5 and reader.info.scale_y == 0.5 and reader.decoded == 5
    np.testing.assert_allclose(reader.info.to_original([[10, 20]]), [[20, 40]])
    # no downscale needed: no second copy
    assert all(b.full is None for b in VideoReader(path, max_side=640, keep_full=True))
    assert output_size(1920, 1080, 640) == (640, 360) and output_size(100, 50, None) == (100, 50)


def test_stop_counts_but_does_not_return_extra_frames(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, flat_frames(12))
    reader = VideoReader(path, batch_size=5, stop=7)
    assert sum(len(b) for b in reader) == 7 and reader.decoded == 12


def test_unreadable_files_name_the_file(tmp_path):
    good = tmp_path / "good.mp4"
    write_video(good, flat_frames(30))
    truncated = tmp_path / "truncated.mp4"  # the mp4 index (moov) is at the end: cut off
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    junk = tmp_path / "junk.avi"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    for path in (truncated, junk, tmp_path / "missing.mp4"):
        with pytest.raises(VideoError) as e:
            list(VideoReader(path))
        assert str(path) in str(e.value) and e.value.path == path


def test_zero_frame_and_no_video_stream(tmp_path):
    empty = tmp_path / "empty.avi"
    with av.open(str(empty), "w") as c:  # a video stream with no frame in it
        s = c.add_stream("mjpeg", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuvj420p"
        c.start_encoding()
    reader = VideoReader(empty)
    with pytest.raises(VideoError, match="no frames") as e:
        list(reader)
    assert str(empty) in str(e.value)
    no_video = tmp_path / "novideo.mp4"
    with av.open(str(no_video), "w") as c:
        c.add_stream("aac", rate=16000)
        c.start_encoding()
    with pytest.raises(VideoError, match="no video stream") as e:
        VideoReader(no_video)
    assert str(no_video) in str(e.value)


def test_decode_error_midway_keeps_earlier_frames(tmp_path):
    path = corrupt_png_avi(tmp_path / "bad.avi", 20, bad=11)
    reader = VideoReader(path, batch_size=4)
    got = []
    with pytest.raises(VideoError, match="decode error after 11 frames") as e:
        for batch in reader:
            got.append(batch)
    assert str(path) in str(e.value)
    frames = np.concatenate([b.frames for b in got])
    assert len(frames) == reader.decoded == 11
    np.testing.assert_array_equal(frames.mean(axis=(1, 2, 3)), 10 * np.arange(11))  # lossless


def write_rotated(path: Path, frames, rotation: int) -> None:
    """Encode `frames` as coded, flagged with a display rotation of `rotation` degrees anticlockwise."""
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.set_display_rotation(rotation)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_flag_gives_upright_frames(tmp_path, rotation):
    upright = np.zeros((64, 48, 3), np.uint8)  # portrait, a white block at the top left
    upright[:16, :16] = 255
    coded = np.rot90(upright, -rotation // 90)  # what a phone records sideways
    path = tmp_path / "phone.mp4"
    write_rotated(path, [coded] * 3, rotation)
    info = probe_video(path)
    assert info.rotation == rotation and (info.width, info.height) == (48, 64)
    reader = VideoReader(path, batch_size=2, max_side=32, keep_full=True)
    batches = list(reader)
    assert batches[0].frames.shape == (2, 32, 24, 3) and batches[0].full.shape == (2, 64, 48, 3)
    full = np.concatenate([b.full for b in batches])
    assert np.abs(full.astype(int) - upright).mean() < 4
    small = batches[0].frames[0, ..., 0]
    assert small[:8, :8].mean() > 200 and small[16:, :].mean() < 30  # the block stays top left


def test_selected_frames_only(tmp_path):
    path = tmp_path / "v.mp4"
    write_video(path, flat_frames(20))
    reader = VideoReader(path, batch_size=3, only=[2, 5, 6, 7, 11])
    batches = list(reader)
    assert [b.indices.tolist() for b in batches] == [[2, 5, 6], [7, 11]]
    levels = np.concatenate([b.frames for b in batches]).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(levels, [20, 50, 60, 70, 110], atol=3)
    assert reader.decoded == 12  # stops after the last wanted frame


def test_prefetch_yields_in_order_and_reraises(tmp_path):
    from affect.video.decode import prefetch

    assert list(prefetch(iter(range(50)), depth=2)) == list(range(50))

    def failing():
        yield 1
        yield 2
        raise VideoError("x.mp4", "decode error after 2 frames")
    got = []
    with pytest.raises(VideoError, match="after 2 frames"):
        for item in prefetch(failing()):
            got.append(item)
    assert got == [1, 2]
    gen = prefetch(iter(range(1000)), depth=1)
    assert next(gen) == 0
    gen.close()  # leaving early stops the thread


def test_the_default_video_stream_is_read_not_a_thumbnail_track(tmp_path):
    import subprocess

    from affect.data.probe import demux_packets
    from tests.data.clock_media import ffmpeg

    path = tmp_path / "two.mp4"  # a 1 fps 80x60 preview first (no default flag), the real 25 fps video second
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=80x60:r=1:d=2",
                    "-f", "lavfi", "-i", "testsrc=s=96x64:r=25:d=2", "-map", "0:v", "-map", "1:v", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-disposition:v:0", "0", "-disposition:v:1", "default", str(path)], check=True)
    info = probe_video(path)
    assert (info.width, info.height, round(info.fps)) == (96, 64, 25)
    frames = np.concatenate([b.frames for b in VideoReader(path)])
    assert frames.shape[:3] == (50, 64, 96)
    assert len(demux_packets(path).video_times) == 50


def test_non_square_pixels_are_decoded_as_displayed(tmp_path):
    import subprocess

    from tests.data.clock_media import ffmpeg

    path = tmp_path / "sar.mp4"  # 240x240 coded, pixels 4:3 wide: shown 320x240; a white square shown square
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=240x240:r=25:d=0.4",
                    "-vf", "drawbox=x=60:y=60:w=90:h=120:color=white:t=fill,setsar=4/3", "-c:v", "libx264",
                    "-pix_fmt", "yuv444p", str(path)], check=True)
    info = probe_video(path)
    assert (info.width, info.height, round(info.pixel_aspect, 3)) == (320, 240, 1.333)
    frame = next(iter(VideoReader(path))).frames[0]
    white = np.argwhere(frame.mean(axis=2) > 128)
    h, w = white.max(axis=0) - white.min(axis=0) + 1
    assert frame.shape[:2] == (240, 320) and abs(w - h) <= 3  # 120 x 120 on screen (90 coded pixels wide)
