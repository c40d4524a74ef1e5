"""The synthetic corpus: layout, containers, labels and record agree; awkward cases, cues, determinism."""
from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from affect.metrics.ccc import ccc
from affect.synth import generate_corpus

ANN = Path("annotations") / "VA_Estimation_Challenge"
SPLIT_DIR = {"train": "Train_Set", "validation": "Validation_Set"}


def read_series(path: Path) -> np.ndarray:
    """A `valence,arousal` file as float64 [T, 2], -5 lines as NaN."""
    lines = path.read_text().splitlines()
    assert lines[0] == "valence,arousal"
    values = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    values[(values == -5).all(axis=1)] = np.nan
    return values


def label_path(root: Path, clip: dict) -> Path:
    return root / ANN / SPLIT_DIR[clip["split"]] / f"{clip['clip']}.txt"


def probe(path: Path) -> dict:
    """What PyAV says about a video: decoded frame count, average rate, codecs, audio."""
    with av.open(str(path)) as container:
        v = container.streams.video[0]
        info = {"rate": v.average_rate, "codec": v.codec_context.name, "pix_fmt": v.codec_context.pix_fmt,
                "size": (v.codec_context.width, v.codec_context.height),
                "audio": [(a.codec_context.name, a.rate, a.channels) for a in container.streams.audio]}
        info["frames"] = sum(1 for _ in container.decode(v))
    return info


def decode_frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise IndexError(index)


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono waveform (channels averaged) and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float64) for f in container.decode(stream)]
        return np.concatenate(chunks, axis=1).mean(axis=0), stream.rate


def in_ranges(n: int, ranges: list[list[int]]) -> np.ndarray:
    mask = np.zeros(n, bool)
    for start, stop in ranges:
        mask[start:stop] = True
    return mask


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- layout, containers, labels ---------------------------------------------------------------------

def test_layout_record_and_headers(corpus):
    root, record = corpus
    assert json.loads((root / "synth_record.json").read_text()) == json.loads(json.dumps(record))
    assert len(record["clips"]) == 6 and record["seed"] == 11 and record["seconds"] == 4.0
    videos = {c["video"] for c in record["clips"]}
    assert sorted(p.stem for p in (root / "videos").glob("*.mp4")) == sorted(videos)
    test_list = (root / ANN / "test_set.txt").read_text().split()
    assert test_list == [c["clip"] for c in record["clips"] if c["split"] == "test"] and test_list
    for c in record["clips"]:
        latent = read_series(root / "latent" / f"{c['clip']}.csv")
        assert latent.shape == (c["video_frames"], 2) and np.abs(latent).max() <= 1.0
        if c["split"] == "test":
            assert not list((root / ANN).rglob(f"{c['clip']}.txt"))
            assert c["label_frames"] is None and c["count_diff"] is None and c["ceiling"] is None
        else:
            assert label_path(root, c).read_text().startswith("valence,arousal\n")
    # splits are by video, and the two sides of a video share one
    split_of = {}
    for c in record["clips"]:
        assert split_of.setdefault(c["video"], c["split"]) == c["split"]
    assert {"train", "validation", "test"} <= set(split_of.values())


def test_videos_match_record(corpus):
    root, record = corpus
    by_video = {c["video"]: c for c in record["clips"]}
    rates = set()
    for video, c in by_video.items():
        info = probe(root / "videos" / f"{video}.mp4")
        assert info["frames"] == c["video_frames"], video
        assert float(info["rate"]) == c["fps"], video
        assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
        assert bool(info["audio"]) == c["has_audio"], video
        for codec, rate, channels in info["audio"]:
            assert codec == "aac" and rate in (44100, 48000) and channels in (1, 2)
        rates.add(info["rate"])
    assert {Fraction(15), Fraction(25), Fraction(30), Fraction(30000, 1001)} <= rates
    silent = [v for v, c in by_video.items() if not c["has_audio"]]
    assert len(silent) == 1
    assert not any(c["side"] for c in record["clips"] if c["video"] == silent[0])


def test_labels_match_record(corpus):
    root, record = corpus
    diffs = []
    for c in record["clips"]:
        if c["split"] == "test":
            continue
        labels = read_series(label_path(root, c))
        assert len(labels) == c["label_frames"] == c["video_frames"] + c["count_diff"]
        np.testing.assert_array_equal(np.isnan(labels).any(axis=1), in_ranges(len(labels), c["invalid_frames"]))
        valid = labels[~np.isnan(labels).any(axis=1)]
        assert np.abs(valid).max() <= 1.0 and valid.std(axis=0).min() > 0.02
        diffs.append(c["count_diff"])
    assert min(diffs) < 0 < max(diffs)


def test_awkward_cases(corpus):
    root, record = corpus
    clips = {c["clip"]: c for c in record["clips"]}
    sides = [c for c in record["clips"] if c["side"]]
    assert sorted(c["side"] for c in sides) == ["left", "right"] and len({c["video"] for c in sides}) == 1
    assert sides[0]["split"] in ("train", "validation")
    # -5 stretches of about 1 s (at most a quarter of a 4 s clip), and 1-2 s without a face
    invalid = [(b - a) / c["fps"] for c in clips.values() for a, b in c["invalid_frames"]]
    assert invalid and all(0.5 <= s <= 1.25 for s in invalid)
    no_face = [(b - a) / c["fps"] for c in clips.values() for a, b in c["no_face_frames"]]
    assert len(no_face) >= 2 and all(0.8 <= s <= 2.0 for s in no_face)
    kinds = {nf["kind"] for v in record["videos"] for nf in v["no_face"]}
    assert kinds == {"exit", "occlusion"}


def test_cropped_aligned_has_exactly_the_face_frames(corpus):
    root, record = corpus
    for c in record["clips"]:
        files = sorted((root / "cropped_aligned" / c["clip"]).glob("*.jpg"))
        present = ~in_ranges(c["video_frames"], c["no_face_frames"])
        assert [p.name for p in files] == [f"{i + 1:05d}.jpg" for i in np.flatnonzero(present)]
        with Image.open(files[0]) as im:
            assert im.size == (112, 112) and im.mode == "RGB"


def test_ceiling_is_below_one_and_reproducible_from_files(corpus):
    root, record = corpus
    pairs = []
    for c in record["clips"]:
        if c["split"] == "test":
            continue
        latent = read_series(root / "latent" / f"{c['clip']}.csv")
        labels = read_series(label_path(root, c))
        m = min(len(latent), len(labels))
        ok = ~np.isnan(labels[:m]).any(axis=1)
        pairs.append((latent[:m][ok], labels[:m][ok]))
        for d, dim in enumerate(("valence", "arousal")):
            assert c["ceiling"][dim] == pytest.approx(ccc(pairs[-1][0][:, d], pairs[-1][1][:, d]), abs=2e-6)
    lat = np.concatenate([p[0] for p in pairs])
    lab = np.concatenate([p[1] for p in pairs])
    for d, dim in enumerate(("valence", "arousal")):
        assert 0.8 < record["ceiling"][dim] < 1.0
        assert record["ceiling"][dim] == pytest.approx(ccc(lat[:, d], lab[:, d]), abs=2e-6)


# -- the face detector sees what the record says ---------------------------------------------------

def test_mtcnn_finds_the_faces_the_record_promises(corpus, mtcnn):
    root, record = corpus
    left = next(c for c in record["clips"] if c["side"] == "left")
    frame = decode_frame(root / "videos" / f"{left['video']}.mp4", left["video_frames"] // 3)
    boxes, probs = mtcnn.detect(Image.fromarray(frame))
    assert boxes is not None and len(boxes) == 2 and probs.min() > 0.9
    boxes = boxes[np.argsort(boxes[:, 0])]
    width = frame.shape[1]
    assert boxes[0, 2] < boxes[1, 0]  # side by side, not overlapping
    assert (boxes[0, 0] + boxes[0, 2]) / 2 < width / 2 < (boxes[1, 0] + boxes[1, 2]) / 2
    assert min(boxes[:, 2] - boxes[:, 0]) >= 40  # well above MTCNN's 20 px minimum

    single = next(c for c in record["clips"] if c["no_face_frames"])
    path = root / "videos" / f"{single['video']}.mp4"
    start, stop = single["no_face_frames"][0]
    boxes, _ = mtcnn.detect(Image.fromarray(decode_frame(path, (start + stop) // 2)))
    assert boxes is None
    face_frame = stop + (single["video_frames"] - stop) // 2 if stop < single["video_frames"] - 10 else start // 2
    boxes, probs = mtcnn.detect(Image.fromarray(decode_frame(path, face_frame)))
    assert boxes is not None and len(boxes) == 1 and probs[0] > 0.95


# -- the cues --------------------------------------------------------------------------------------

def test_valence_shows_in_the_aligned_face(corpus):
    """Mean brightness of the aligned crop's centre follows latent valence (saturation, the arousal
    cue, leaves it unchanged)."""
    root, record = corpus
    feature, valence = [], []
    for c in record["clips"]:
        latent = read_series(root / "latent" / f"{c['clip']}.csv")
        for p in sorted((root / "cropped_aligned" / c["clip"]).glob("*.jpg"))[::2]:
            with Image.open(p) as im:
                feature.append(np.asarray(im, np.float32)[28:92, 28:84].mean())
            valence.append(latent[int(p.stem) - 1, 0])
    r = np.corrcoef(feature, valence)[0, 1]
    assert r > 0.5, r


def test_arousal_shows_in_the_voice(corpus):
    """Loudness (log RMS over 1 s windows) of the single-speaker tracks follows latent arousal."""
    root, record = corpus
    loud, arousal = [], []
    for c in record["clips"]:
        if not c["has_audio"] or c["side"]:
            continue
        wave, rate = decode_audio(root / "videos" / f"{c['video']}.mp4")
        latent = read_series(root / "latent" / f"{c['clip']}.csv")
        t = np.arange(len(latent)) / c["fps"]
        for k in range(int(len(latent) / c["fps"])):
            loud.append(np.log(np.sqrt(np.mean(wave[k * rate:(k + 1) * rate] ** 2))))
            arousal.append(latent[(t >= k) & (t < k + 1), 1].mean())
    r = np.corrcoef(loud, arousal)[0, 1]
    assert len(loud) >= 10 and r > 0.5, r


def test_voice_cues_pitch_loudness_and_tilt():
    """Held arousal raises f0 and loudness; held valence brightens the spectrum."""
    librosa = pytest.importorskip("librosa")
    from affect.synth.voice import SYNTH_RATE, Speaker, synth_voice

    def voice(a: float, v: float) -> np.ndarray:
        rng = np.random.default_rng(0)
        cue = np.ones(80)
        return synth_voice(rng, Speaker(), 3.0, a * cue, v * cue, cue_rate=25.0)

    calm, aroused = voice(-0.7, 0.0), voice(0.7, 0.0)
    level = [20 * np.log10(np.sqrt(np.mean(x ** 2))) for x in (calm, aroused)]
    assert level[1] - level[0] > 10.0
    f0 = []
    for x in (calm, aroused):
        track, voiced, _ = librosa.pyin(x, fmin=70, fmax=400, sr=SYNTH_RATE, frame_length=1024, hop_length=320)
        f0.append(np.nanmedian(track[voiced]))
    assert f0[1] / f0[0] > 1.5 and 100 < f0[0] < f0[1] < 280
    tilt = []  # energy at 1-4 kHz over energy below 1 kHz, dB
    for x in (voice(0.0, -0.7), voice(0.0, 0.7)):
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1.0 / SYNTH_RATE)
        tilt.append(10 * np.log10(power[(f > 1000) & (f < 4000)].sum() / power[f < 1000].sum()))
    assert tilt[1] - tilt[0] > 3.0


def test_face_cues_brightness_tint_and_saturation():
    from affect.synth.face_render import face_colour, make_face

    face = make_face()
    inside = face.alpha > 0.99
    mean = {v: face_colour(face, v, 0.0)[inside].mean(axis=0) for v in (-0.7, 0.0, 0.7)}
    assert mean[0.7].mean() > 1.2 * mean[-0.7].mean()
    assert (mean[0.7][0] - mean[0.7][2]) > (mean[-0.7][0] - mean[-0.7][2])  # warmer when positive
    spread = {a: face_colour(face, 0.0, a)[inside].std(axis=1).mean() for a in (-0.7, 0.7)}
    assert spread[0.7] > 1.5 * spread[-0.7]  # more saturated when aroused
    assert abs(face_colour(face, 0.0, 0.7)[inside].mean() - face_colour(face, 0.0, -0.7)[inside].mean()) < 1.0


# -- determinism, re-generation, small corpora -----------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_labels(tmp_path):
    a = generate_corpus(tmp_path / "a", clips=3, seconds=3.0, seed=5)
    b = generate_corpus(tmp_path / "b", clips=3, seconds=3.0, seed=5)
    c = generate_corpus(tmp_path / "c", clips=3, seconds=3.0, seed=6)
    assert a == b
    da, db, dc = (tree_digest(tmp_path / x) for x in "abc")
    assert da == db  # labels, latent, record and the mp4 bytes
    assert set(da) == set(dc)
    labels = [k for k in da if k.endswith(".txt") and "test_set" not in k]
    assert labels and all(da[k] != dc[k] for k in labels)
    assert a["ceiling"] != c["ceiling"]


def test_three_clips_keep_the_main_awkward_cases(tmp_path):
    record = generate_corpus(tmp_path / "c3", clips=3, seconds=3.0, seed=2)
    clips = record["clips"]
    assert len(clips) == 3 and sorted(c["side"] or "" for c in clips) == ["", "left", "right"]
    assert any(c["no_face_frames"] for c in clips) and any(c["invalid_frames"] for c in clips)
    assert {c["split"] for c in clips} == {"train", "validation"}


@pytest.mark.parametrize("clips", [1, 2])
def test_tiny_corpora(tmp_path, clips):
    record = generate_corpus(tmp_path / "tiny", clips=clips, seconds=2.0, seed=0)
    assert len(record["clips"]) == clips and not any(c["side"] for c in record["clips"])
    assert record["ceiling"] is not None


def test_regenerating_replaces_and_a_foreign_folder_is_refused(tmp_path):
    out = tmp_path / "corpus"
    generate_corpus(out, clips=4, seconds=2.0, seed=0)
    (out / "synth_record.json").unlink()  # as if killed before the end
    generate_corpus(out, clips=3, seconds=2.0, seed=0)
    assert sorted(p.stem for p in (out / "videos").glob("*.mp4")) == ["s000", "s001"]
    assert not (out / ANN / "test_set.txt").read_text().strip()
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    foreign = tmp_path / "real"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate_corpus(foreign, clips=3, seconds=2.0)
    assert (foreign / "notes.txt").read_text() == "mine"
