"""The bundle format: plain state dicts, integrity, version, truncation; feature sets that cannot be reproduced."""
import json
import shutil
import subprocess
import sys

import pytest
import torch

from affect.bundle.features import check_reproducible, feature_record
from affect.bundle.format import BUNDLE_VERSION, BundleError, open_bundle, write_bundle

SPEC = {"kind": "temporal", "model": "gru", "features": ["egemaps"], "dims": {"egemaps": 4}, "substeps": {},
        "hidden": 8, "layers": 1, "dropout": 0.0, "window": 8}


def _bundle(path, features=None):
    from affect.models import build_model

    torch.manual_seed(0)
    model = build_model(SPEC)
    record = {"name": "unimodal/egemaps", "kind": "temporal", "spec": SPEC,
              "norm": {"egemaps": {"mean": [0.0] * 4, "std": [1.0] * 4}}}
    info = {"model": "unimodal/egemaps", "created": "now", "affect_version": "test",
            "features": features or {}, "settings": {},
            "smoothing": {"kind": "mean", "window_s": {"valence": 0.5, "arousal": 0.0}, "chosen_on": "validation (1 clips)"},
            "training": {"corpus": "c", "fingerprint": "f" * 64, "splits": {}, "validation": [], "selection": []}}
    return write_bundle(path, info, {"unimodal/egemaps": {"state_dict": model.state_dict(), "record": record}},
                        "seed: 0\n", "# card\n"), model


def test_round_trip_weights_only_and_same_model(tmp_path):
    path, model = _bundle(tmp_path / "b")
    state = torch.load(path / "members" / "unimodal__egemaps" / "weights.pt", weights_only=True)
    assert set(state) == set(model.state_dict()) and all(isinstance(v, torch.Tensor) for v in state.values())
    bundle = open_bundle(path)
    assert bundle.model_name == "unimodal/egemaps" and bundle.smoothing.window_s == {"valence": 0.5, "arousal": 0.0}
    rebuilt = bundle.members[0].model("cpu")
    for k, v in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[k], v)
    assert json.loads((path / "bundle.json").read_text())["version"] == BUNDLE_VERSION


def test_tampered_member_weights_are_refused(tmp_path):
    path, _ = _bundle(tmp_path / "b")
    weights = path / "members" / "unimodal__egemaps" / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[-20] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"weights\.pt: sha256 .* differs"):
        open_bundle(path)


def test_newer_version_and_truncated_tar_are_refused(tmp_path):
    path, _ = _bundle(tmp_path / "b")
    meta = json.loads((path / "bundle.json").read_text())
    (path / "bundle.json").write_text(json.dumps({**meta, "version": BUNDLE_VERSION + 1}))
    with pytest.raises(BundleError, match=f"bundle version {BUNDLE_VERSION + 1} is newer"):
        open_bundle(path)

    tar, _ = _bundle(tmp_path / "model.tar")
    assert open_bundle(tar).members[0].name == "unimodal/egemaps"
    cut = tmp_path / "cut.tar"
    cut.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    with pytest.raises(BundleError, match="cut.tar"):
        open_bundle(cut)

    shutil.copytree(path, tmp_path / "partial")
    (tmp_path / "partial" / "config.yaml").unlink()
    (tmp_path / "partial" / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"config\.yaml: missing"):
        open_bundle(tmp_path / "partial")


def _record(name, weights, sha, tag):
    return {"modality": "visual", "dim": 8, "source": "visual", "backbone": name, "weights_tag": tag,
            "weights": str(weights), "weights_sha256": sha, "random": False, "describe": {}}


def test_backbone_weights_missing_or_with_another_hash_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AFFECT_CHECKPOINTS", str(tmp_path / "checkpoints"))
    trained = tmp_path / "trained" / "model.safetensors"
    trained.parent.mkdir()
    trained.write_bytes(b"the weights the model was trained on")
    rec = feature_record("resnet50-tiny", {"modality": "visual", "dim": 8, "source": "visual"},
                         {"name": "resnet50-tiny", "weights": str(trained)}, str(trained))
    assert rec["weights_sha256"] and not rec["random"]
    assert check_reproducible({"resnet50-tiny": rec}) == {}  # the recorded file, same hash

    moved = tmp_path / "checkpoints" / "resnet50-tiny" / "model.safetensors"
    moved.parent.mkdir(parents=True)
    shutil.move(trained, moved)  # elsewhere on this machine: found in checkpoints/<backbone>/, used from there
    assert check_reproducible({"resnet50-tiny": rec}) == {"resnet50-tiny": str(moved)}

    moved.write_bytes(b"other weights")
    with pytest.raises(BundleError, match=r"'resnet50-tiny': different weights: .* has sha256"):
        check_reproducible({"resnet50-tiny": rec})
    moved.unlink()
    with pytest.raises(BundleError, match=r"'resnet50-tiny': missing checkpoint .* put the exact file .*"
                                          r"/checkpoints/resnet50-tiny/model.safetensors"):
        check_reproducible({"resnet50-tiny": rec})


def test_other_opensmile_or_unknown_backbone_or_external_sets_are_refused():
    rec = {**_record("egemaps", "opensmile 0.0.1 eGeMAPSv02 (bundled)", None, "random"), "source": "speech"}
    with pytest.raises(BundleError, match=r"made with openSMILE 0.0.1 .* `pip install opensmile==0.0.1"):
        check_reproducible({"egemaps": rec})
    with pytest.raises(BundleError, match="no backbone of that name"):
        check_reproducible({"nope-net": {**_record("nope-net", "random", None, "random"), "random": True}})
    with pytest.raises(BundleError, match="align.external"):
        check_reproducible({"mine": {**_record("mine", "x", None, "x"), "source": "external"}})


def test_import_affect_and_the_bundle_package_stay_light():
    code = ("import sys, affect, affect.bundle, affect.bundle.features, affect.cli.infer.commands, affect.cli; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'affect.stages.faces') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "[]"


def test_one_video_corpus_names_side_and_key(tmp_path):
    from affect.config import Config
    from affect.data.sources import csv_sources
    from affect.cli.infer.corpus import clip_id, make_corpus, point_config

    video = tmp_path / "my videos" / "Interview #3.mp4"
    video.parent.mkdir()
    video.write_bytes(b"x" * 3000)
    left = make_corpus(video, "left", tmp_path / "cache")
    assert clip_id("Interview #3", None) == "Interview__3" and left.clip == "Interview__3_left"
    assert left.name.startswith("Interview__3-") and left.cache_root == (tmp_path / "cache" / "infer").resolve()
    cfg = point_config(Config(), left)
    sources, problems = csv_sources(left.root, cfg.corpus)
    assert problems == [] and [(s.clip, s.side, s.split, s.video_path) for s in sources] == \
        [("Interview__3_left", "left", "test", video.resolve())]
    mtime = (left.root / "clips.csv").stat().st_mtime_ns
    again = make_corpus(video, "left", tmp_path / "cache")  # the same video: the same corpus, the list untouched
    assert again.name == left.name and (left.root / "clips.csv").stat().st_mtime_ns == mtime
    assert make_corpus(video, None, tmp_path / "cache").root != left.root
    video.write_bytes(b"y" * 3000)
    assert make_corpus(video, "left", tmp_path / "cache").name != left.name  # other content, other key
