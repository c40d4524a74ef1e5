"""`affect export` then `affect infer` on a tiny generated corpus: stage 08's predictions, reproduced.

One training run (stages 00-08 on 3 clips x 2 s, a tiny random-weight ResNet and openSMILE,
fusion of 2 seeds), shared by the tests of this module. `affect infer` then runs stages 00-05
again on the validation video as a video nobody labelled (its own one-video corpus) and must
give stage 08's smoothed frame predictions to 1e-5.
"""
import json
import logging
import shutil

import av
import numpy as np
import pandas as pd
import pytest
import torch

import affect
from affect.cli import main
from affect.config import load_config
from affect.data.manifest import read_manifest, resolve
from affect.report.store import load_arrays, read_models
from affect.stages import get_stage

ARGS = ["corpus.name=tiny", "faces.size=64", "prepare.folds=2", "faces.max_side=192", "faces.min_face_size=24",
        "visual.weights=random", "visual.backbones=[resnet50-tiny]", "visual.workers=0",
        "speech.weights=random", "speech.backbones=[egemaps]", "fusion.seeds=2", "fusion.baselines=false",
        *[f"{s}.train.{k}" for s in ("unimodal", "fusion") for k in ("epochs=2", "window=8", "stride=4")]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from affect.synth.corpus import generate_corpus

    tmp = tmp_path_factory.mktemp("infer")
    root = tmp / "corpus"
    generate_corpus(root, clips=3, seconds=2.0, seed=7)
    args = [f"corpus.root={root}", f"cache_root={tmp / 'cache'}", *ARGS]
    assert main(["run", "--device", "cpu", "--stop-stage", "predict", *args]) == 0
    bundle = tmp / "fusion.bundle"
    assert main(["export", *args, "--out", str(bundle)]) == 0
    return {"root": root, "args": args, "bundle": bundle, "cfg": load_config(overrides=args), "tmp": tmp}


def _validation_videos(t):
    predict = get_stage("predict")(t["cfg"])
    manifest = read_manifest(predict.upstream("prepare").output.path)
    rows = manifest[(manifest["split"] == "validation") & (manifest["count_diff"] == 0) & manifest["side"].isna()]
    assert len(rows), "the tiny corpus must have a validation clip with as many label lines as video frames"
    final = load_arrays(read_models(predict.output.path)["fusion"] / "final.npz")
    return [(row["clip"], resolve(t["root"], row["video_path"]), final[row["clip"]]) for _, row in rows.iterrows()]


def test_infer_reproduces_stage_08_and_the_bundle_loads_weights_only(trained, tmp_path):
    bundle = trained["bundle"]
    info = json.loads((bundle / "bundle.json").read_text())
    # stage 07's fusion is a per-dimension stack over the attention network's seeds and the fused sets'
    # own regressors: the bundle holds every one of those runs and the stack's weights
    members = [m["run"] for m in info["members"]]
    assert info["model"] == "fusion" and {"fusion/xattn@seed0", "fusion/xattn@seed1"} <= set(members)
    assert all(r.startswith(("fusion/xattn@", "fusion/xattn-narrow@", "unimodal/")) for r in members), members
    (stack,) = info["stacks"]
    assert stack["run"] == "fusion" and np.asarray(stack["weights"]).shape == (2, len(stack["candidates"]))
    assert {r for c in stack["candidates"] for r in c["runs"]} == set(members)
    for m in info["members"]:
        state = torch.load(bundle / m["folder"] / "weights.pt", weights_only=True)
        assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    assert info["features"]["resnet50-tiny"]["random"] and info["features"]["egemaps"]["weights"].startswith("opensmile")
    card = (bundle / "README.md").read_text()
    assert "Random weights" in card and "tiny" in card and info["training"]["fingerprint"][:16] in card

    videos = _validation_videos(trained)
    out, cache = tmp_path / "out", trained["tmp"] / "infer-cache"
    assert main(["infer", str(bundle), *[str(v) for _, v, _ in videos], "--out", str(out), "--cache-root", str(cache),
                 "--device", "cpu"]) == 0
    for clip, video, expected in videos:
        table = pd.read_csv(out / f"{video.stem}.csv")
        assert list(table.columns) == ["frame", "time_s", "valence", "arousal", "face"]
        np.testing.assert_allclose(table[["valence", "arousal"]].to_numpy(), expected, atol=1e-5, rtol=0)
        assert (out / f"{video.stem}.png").stat().st_size > 0
        faces = get_stage("faces")(trained["cfg"]).output.clip_dir(clip) / "faces.npz"
        assert np.array_equal(table["face"].to_numpy().astype(bool), np.load(faces)["found"])
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["status"]) == ["ok"] * len(videos)

    # the Python API: the same frames, from the stage cache (nothing recomputed)
    clip, video, expected = videos[0]
    before = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()}
    frames = affect.load_model(bundle, cache_root=cache, device="cpu").predict_video(video)
    np.testing.assert_allclose(frames[["valence", "arousal"]].to_numpy(), expected, atol=1e-5, rtol=0)
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file()} == before


def _without_audio(src, dst):
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return dst


def _variable_rate(src, dst):
    """The video re-timed: frames 0-19 every 0.04 s, then every 0.08 s; no audio."""
    import subprocess

    from tests.data.clock_media import ffmpeg

    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(src), "-an",
                    "-vf", "setpts='if(lt(N,20),N*0.04,0.8+(N-20)*0.08)/TB'", "-fps_mode", "passthrough",
                    "-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p", str(dst)], check=True)
    with av.open(str(dst)) as f:
        return np.array([float(fr.pts * fr.time_base) for fr in f.decode(video=0)])


def test_a_folder_with_a_corrupt_video_and_one_without_audio(trained, tmp_path, caplog, monkeypatch):
    import dataclasses

    from affect.backbones import registry

    built, get_spec = [], registry.get_spec

    def counting(name):  # every backbone a stage builds, by name
        spec = get_spec(name)
        return dataclasses.replace(spec, factory=lambda **kw: built.append(spec.name) or spec.factory(**kw))

    monkeypatch.setattr(registry, "get_spec", counting)
    _, video, expected = _validation_videos(trained)[0]
    folder = tmp_path / "videos"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(video, folder / "good.mp4")
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    _without_audio(video, folder / "nested" / "silent interview.mp4")
    starts = _variable_rate(video, folder / "variable.mp4")
    out = tmp_path / "out"
    caplog.set_level(logging.INFO)
    rc = main(["infer", str(trained["bundle"]), str(folder), "--out", str(out), "--render",  # a cache of its own:
               "--cache-root", str(tmp_path / "cache"), "--device", "cpu"])  # both videos run every stage
    assert rc == 1  # one video failed
    assert built and len(built) == len(set(built)), built  # three videos predicted, each backbone built once
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "broken.mp4" in errors[0].getMessage(), [r.getMessage() for r in errors]
    assert sorted(p.name for p in out.glob("*.csv")) == ["good.csv", "silent interview.csv", "summary.csv",
                                                         "variable.csv"]
    times = pd.read_csv(out / "variable.csv")["time_s"].to_numpy()  # real frame centres, not (i + 0.5) / fps
    gaps = np.diff(starts)
    assert len(times) == len(starts) and np.allclose(gaps[:19], 0.04, atol=1e-3) and np.allclose(gaps[20:], 0.08, atol=1e-3)
    np.testing.assert_allclose(times[:-1], (starts[:-1] + starts[1:]) / 2 - starts[0], atol=1e-3)
    summary = pd.read_csv(out / "summary.csv").set_index("name")
    assert summary.loc["broken", "status"] == "failed" and "broken.mp4" in summary.loc["broken", "note"]
    assert summary.loc["silent interview", "status"] == "ok" and "no audio" in summary.loc["silent interview", "note"]
    fps = summary.loc["variable", "fps"]
    assert abs(summary.loc["variable", "duration_s"] - (starts[-1] - starts[0] + 1 / fps)) < 1e-3
    good = pd.read_csv(out / "good.csv")
    np.testing.assert_allclose(good[["valence", "arousal"]].to_numpy(), expected, atol=1e-5, rtol=0)
    with av.open(str(out / "good.mp4")) as f:
        assert len(f.streams.audio) == 1 and f.streams.video[0].frames == len(good)
    with av.open(str(out / "silent interview.mp4")) as f:
        assert len(f.streams.audio) == 0


def test_a_tampered_or_newer_bundle_is_refused_before_any_video(trained, tmp_path, caplog):
    _, video, _ = _validation_videos(trained)[0]
    tampered = tmp_path / "tampered"
    shutil.copytree(trained["bundle"], tampered)
    weights = next(tampered.glob("members/*/weights.pt"))
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01
    weights.write_bytes(bytes(data))
    assert main(["infer", str(tampered), str(video), "--out", str(tmp_path / "o1")]) == 2
    assert "weights.pt: sha256" in caplog.text and not (tmp_path / "o1" / f"{video.stem}.csv").exists()

    newer = tmp_path / "newer"
    shutil.copytree(trained["bundle"], newer)
    meta = json.loads((newer / "bundle.json").read_text())
    (newer / "bundle.json").write_text(json.dumps({**meta, "version": meta["version"] + 1}))
    assert main(["infer", str(newer), str(video), "--out", str(tmp_path / "o2")]) == 2
    assert f"bundle version {meta['version'] + 1} is newer" in caplog.text
