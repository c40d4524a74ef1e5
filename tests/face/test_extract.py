import logging

import numpy as np
import pytest
from PIL import Image

from affect.face.config import FacesConfig
from affect.face.crops import CropReader
from affect.face.extract import extract_faces, faces_from_provided
from affect.face.track import DETECTED, INTERPOLATED, NONE, PROVIDED
from affect.video.decode import VideoError
from affect.video.encode import write_video

CFG = FacesConfig(batch_size=8)
KEYS = {"found", "source", "score", "box", "landmarks", "matrix", "track", "frame_size", "size"}


def load(out):
    with np.load(out / "faces.npz") as z:
        assert set(z.files) == KEYS
        return {k: z[k] for k in z.files}


def test_one_row_per_manifest_frame_face_everywhere(tmp_path, make_scene, put_face, detector):
    video = make_scene(tmp_path / "one.mp4", 16, lambda i, f: put_face(f, 70 + 3 * i, 30, 180))
    out = tmp_path / "out"
    out.mkdir()
    s = extract_faces(video, out, frames=16, side=None, cfg=CFG, detector=detector)
    assert s["frames"] == s["decoded"] == s["found"] == s["detected"] == 16
    assert s["no_face"] == 0 and s["frame_diff"] == 0 and s["decode_error"] is None
    z = load(out)
    assert z["found"].all() and (z["source"] == DETECTED).all() and (z["score"] > 0.9).all()
    assert z["box"].shape == (16, 4) and z["landmarks"].shape == (16, 5, 2) and z["matrix"].shape == (16, 2, 3)
    assert tuple(z["frame_size"]) == (320, 240) and int(z["size"]) == 224
    assert len(set(z["track"].tolist())) == 1
    # the face moves right by 3 px a frame: so do its landmarks (in original-frame pixels)
    slope = np.polyfit(np.arange(16), z["landmarks"][:, :, 0].mean(axis=1), 1)[0]
    assert slope == pytest.approx(3, abs=0.5)
    reader = CropReader(out)
    assert len(reader) == 16 and (reader.has_crop == z["found"]).all()
    crop = reader.read([5])[0]
    again = detector.detect(crop)[0]  # the stored crop is an aligned face
    assert len(again) >= 1 and again.scores.max() > 0.95


def test_manifest_count_longer_or_shorter_than_the_video(tmp_path, make_scene, put_face, detector):
    video = make_scene(tmp_path / "v.mp4", 10, lambda i, f: put_face(f, 70, 30, 180))
    s = extract_faces(video, tmp_path / "long", frames=13, side=None, cfg=CFG, detector=detector)
    z = load(tmp_path / "long")
    assert len(z["found"]) == 13 and z["found"][:10].all() and not z["found"][10:].any()
    assert s["decoded"] == 10 and s["frame_diff"] == -3 and s["no_face"] == 3
    s = extract_faces(video, tmp_path / "short", frames=8, side=None, cfg=CFG, detector=detector)
    assert len(load(tmp_path / "short")["found"]) == 8 and len(CropReader(tmp_path / "short")) == 8
    assert s["decoded"] == 10 and s["frame_diff"] == 2 and s["found"] == 8


def test_detection_on_shrunk_frames_reports_original_pixels(tmp_path, head, detector):
    frame = np.full((480, 640, 3), 100, np.uint8)
    frame[100:400, 200:500] = np.asarray(Image.fromarray(head).resize((300, 300)))
    video = tmp_path / "big.mp4"
    write_video(video, [frame] * 4)
    full = extract_faces(video, tmp_path / "full", frames=4, side=None, cfg=FacesConfig(max_side=640),
                         detector=detector)
    small = extract_faces(video, tmp_path / "small", frames=4, side=None, cfg=FacesConfig(max_side=320),
                          detector=detector)
    assert full["found"] == small["found"] == 4
    a, b = load(tmp_path / "full"), load(tmp_path / "small")
    assert tuple(b["frame_size"]) == (640, 480)
    np.testing.assert_allclose(a["landmarks"], b["landmarks"], atol=4)
    np.testing.assert_allclose(a["box"], b["box"], atol=8)
    crops = CropReader(tmp_path / "full").read([0]).astype(int), CropReader(tmp_path / "small").read([0]).astype(int)
    assert np.abs(crops[0] - crops[1]).mean() < 12  # both cut from the full-size frame


def test_two_people_each_side_gets_its_own(tmp_path, make_scene, put_face, detector):
    def draw(i, f):
        put_face(f, 4 + (i % 4), 50 + (i % 3), 150)  # left person
        put_face(f, 164 - (i % 3), 40 + (i % 4), 150, flip=True)  # right person (mirrored)
    video = make_scene(tmp_path / "two.mp4", 14, draw)
    for side in ("left", "right"):
        out = tmp_path / side
        s = extract_faces(video, out, frames=14, side=side, cfg=CFG, detector=detector)
        assert s["found"] == 14
        cx = load(out)["box"][:, [0, 2]].mean(axis=1)
        assert ((cx < 160) if side == "left" else (cx > 160)).all()


def test_blank_stretches_masked_and_short_gap_bridged(tmp_path, make_scene, put_face, detector):
    blank = {6, 7} | set(range(14, 22))  # a 2-frame gap (bridged), an 8-frame gap (> max_gap)
    video = make_scene(tmp_path / "gaps.mp4", 28,
                       lambda i, f: None if i in blank else put_face(f, 60 + i, 30, 180))
    out = tmp_path / "out"
    s = extract_faces(video, out, frames=28, side=None, cfg=CFG, detector=detector)
    z = load(out)
    src = z["source"]
    assert (src[[6, 7]] == INTERPOLATED).all()
    assert (src[14:22] == NONE).all()
    assert (src[[i for i in range(28) if i not in blank]] == DETECTED).all()
    assert s["interpolated"] == 2 and s["no_face"] == 8
    assert np.isnan(z["box"][14:22]).all() and np.isnan(z["score"][[6, 7]]).all()
    # interpolated boxes lie between their neighbours
    assert z["box"][5, 0] < z["box"][6, 0] < z["box"][7, 0] < z["box"][8, 0]
    reader = CropReader(out)
    assert reader.has_crop[[6, 7]].all() and not reader.has_crop[14:22].any()


def test_clip_without_any_face_is_masked_not_an_error(tmp_path, make_scene, detector, caplog):
    video = make_scene(tmp_path / "empty.mp4", 6, lambda i, f: None)
    with caplog.at_level(logging.WARNING):
        s = extract_faces(video, tmp_path / "out", frames=6, side="left", cfg=CFG, detector=detector)
    assert s["found"] == 0 and s["no_face"] == 6
    assert "no face" in caplog.text
    assert not load(tmp_path / "out")["found"].any() and len(CropReader(tmp_path / "out")) == 6


def test_unreadable_videos_raise_naming_the_file(tmp_path, make_scene, put_face, detector):
    video = make_scene(tmp_path / "v.mp4", 6, lambda i, f: put_face(f, 70, 30, 180))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[:2000])
    for path in (truncated, tmp_path / "missing.mp4"):
        with pytest.raises(VideoError, match=str(path)):
            extract_faces(path, tmp_path / "out", frames=6, side=None, cfg=CFG, detector=detector)


def test_decode_error_midway_keeps_decoded_frames(tmp_path, head, detector):
    path = tmp_path / "bad.avi"  # lossless PNG frames: garbage in frame 7 stops the decoder there
    frame = np.full((120, 160, 3), 90, np.uint8)
    frame[10:110, 30:130] = np.asarray(Image.fromarray(head).resize((100, 100)))
    write_video(path, [frame] * 12, codec="png")
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data)) if data[i:i + 4] == b"\x89PNG"]
    data[starts[7]:starts[7] + 60] = bytes(60)
    path.write_bytes(bytes(data))
    s = extract_faces(path, tmp_path / "out", frames=12, side=None, cfg=CFG, detector=detector)
    assert s["decoded"] == 7 and "decode error after 7 frames" in s["decode_error"]
    z = load(tmp_path / "out")
    assert z["found"][:7].all() and not z["found"][7:].any()


def test_faces_from_provided_fills_missing_files(tmp_path, head):
    crops = tmp_path / "cropped_aligned" / "clip_left"
    crops.mkdir(parents=True)
    small = np.asarray(Image.fromarray(head).resize((112, 112)))
    for i in (1, 2, 4, 7, 9):  # 1-based; frame 9 is past the manifest's 8 frames
        Image.fromarray(small).save(crops / f"{i:05d}.jpg", quality=95)
    (crops / "00003.jpg").write_bytes(b"not a jpeg")
    cfg = FacesConfig(size=64)
    s = faces_from_provided(crops, tmp_path / "out", frames=8, cfg=cfg)
    z = load(tmp_path / "out")
    np.testing.assert_array_equal(np.nonzero(z["found"])[0], [0, 1, 3, 6])
    assert (z["source"][z["found"]] == PROVIDED).all() and (z["source"][~z["found"]] == NONE).all()
    assert np.isnan(z["box"]).all() and np.isnan(z["landmarks"]).all()
    assert s["found"] == 4 and s["no_face"] == 4 and s["files_beyond"] == 1 and s["unreadable"] == 1
    reader = CropReader(tmp_path / "out")
    got = reader.read([0, 2])
    assert got.shape == (2, 64, 64, 3) and (got[1] == 0).all()
    expect = np.asarray(Image.fromarray(small).resize((64, 64), Image.BICUBIC)).astype(int)
    assert np.abs(got[0].astype(int) - expect).mean() < 6
    # same size as asked: the JPEG bytes are kept as they are
    faces_from_provided(crops, tmp_path / "same", frames=8, cfg=FacesConfig(size=112))
    assert CropReader(tmp_path / "same").read_jpeg(0) == (crops / "00001.jpg").read_bytes()


def test_rotated_phone_video_gives_upright_crops(tmp_path, head, detector):
    """A portrait scene recorded sideways with a 90° display-rotation flag: crops are upright,
    landmarks are in upright-frame pixels with the eyes level and above the mouth, and the crops
    match those of the same scene stored upright."""
    import av

    upright = np.full((320, 240, 3), 90, np.uint8)  # portrait 240 x 320
    upright[60:240, 30:210] = np.asarray(Image.fromarray(head).resize((180, 180)))
    coded = np.ascontiguousarray(np.rot90(upright, -1))  # turned clockwise: the display turns it back
    rotated = tmp_path / "phone.mp4"
    with av.open(str(rotated), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.height, s.width, s.pix_fmt = coded.shape[0], coded.shape[1], "yuv420p"
        s.set_display_rotation(90)
        for _ in range(4):
            for p in s.encode(av.VideoFrame.from_ndarray(coded, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    straight = tmp_path / "straight.mp4"
    write_video(straight, [upright] * 4)
    s = extract_faces(rotated, tmp_path / "rot", frames=4, side=None, cfg=CFG, detector=detector)
    extract_faces(straight, tmp_path / "ref", frames=4, side=None, cfg=CFG, detector=detector)
    z = load(tmp_path / "rot")
    assert s["rotation"] == 90 and s["found"] == 4 and tuple(z["frame_size"]) == (240, 320)
    lm = z["landmarks"]
    assert np.abs(lm[:, 0, 1] - lm[:, 1, 1]).max() < 6  # eyes level
    assert (lm[:, 0, 0] < lm[:, 1, 0]).all() and (lm[:, :2, 1].max(axis=1) < lm[:, 3:, 1].min(axis=1)).all()
    np.testing.assert_allclose(lm, load(tmp_path / "ref")["landmarks"], atol=3)
    a, b = CropReader(tmp_path / "rot").read([0]).astype(int), CropReader(tmp_path / "ref").read([0]).astype(int)
    assert np.abs(a - b).mean() < 8
