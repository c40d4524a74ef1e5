"""The feature sets of a bundle: what produced each one, and whether this machine can produce it again.

A record per feature set (written at export from stage 05's `features.json` and the feature
stage's `backbones.json`)::

    {"modality": "visual", "dim": 2048, "source": "visual", "backbone": "resnet50",
     "weights_tag": "default",              # the config's weights setting for this backbone
     "weights": "/.../model.safetensors",   # what the backbone loaded (its describe()["weights"])
     "weights_sha256": "ab12...",           # of that file (of a folder: of its files), else null
     "random": false,                       # true: weights=random, reproduced from the config's seed
     "describe": {...}}                     # the backbone's whole describe() record

Before any video is read, `check_reproducible` makes sure every set can be made again here:
the backbone is registered; a weights file with the recorded sha256 is found (at the recorded
path, in `checkpoints/<backbone>/`, or where the backbone's own resolver looks); openSMILE sets
need the same openSMILE version. Anything else is refused with a `BundleError` naming the set,
what differs and how to get the right one. After the feature stages ran, `check_described`
compares their `backbones.json` with the bundle's records: features are never predicted from
backbones other than the ones the model was trained on.
"""
from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from affect.bundle.format import BundleError, sha256_file

log = logging.getLogger(__name__)

OPENSMILE = "opensmile "


def folder_sha256(folder: Path) -> str:
    """sha256 over (relative path, sha256) of every file below `folder` (a `from_pretrained` folder)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            h.update(f"{p.relative_to(folder).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def weights_sha256(path: Path) -> str:
    """sha256 of a weights file or folder, remembered per (path, size, mtime): large files are read once."""
    st = path.stat()
    return _sha_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _sha_cached(path: str, size: int, mtime_ns: int) -> str:
    p = Path(path)
    return folder_sha256(p) if p.is_dir() else sha256_file(p)


def is_random(weights: str) -> bool:
    return weights.startswith("random")


def feature_record(name: str, aligned: dict[str, Any], describe: dict[str, Any], tag: str) -> dict[str, Any]:
    """The bundle's record of feature set `name` (see the module docstring)."""
    weights = str(describe.get("weights", ""))
    record = {"modality": aligned["modality"], "dim": int(aligned["dim"]), "source": aligned.get("source", ""),
              "backbone": name, "weights_tag": tag, "weights": weights, "weights_sha256": None,
              "random": is_random(weights), "describe": describe}
    if weights and not record["random"] and not weights.startswith(OPENSMILE) and Path(weights).exists():
        record["weights_sha256"] = weights_sha256(Path(weights))
    return record


def weights_tag(cfg: Any, name: str, modality: str) -> str:
    """The config's weights setting for backbone `name` (visual.weights_for, visual.weights, speech.weights)."""
    if modality == "visual":
        return cfg.visual.weights_for.get(name, cfg.visual.weights)
    return cfg.speech.weights


def _opensmile_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opensmile")
    except PackageNotFoundError:
        return "not installed"


def _resolved_here(name: str, tag: str) -> Path | None:
    """Where this machine's resolver finds backbone `name`'s weights for `tag` (builds the backbone)."""
    from affect.backbones.registry import create_backbone

    try:
        bb = create_backbone(name, weights=tag)
    except Exception as e:  # WeightsNotFound and friends: "not here"
        log.debug("%s: weights %r not found here: %s", name, tag, e)
        return None
    path = Path(str(bb.describe().get("weights", "")))
    return path if path.exists() else None


def _find_weights(name: str, rec: dict[str, Any]) -> tuple[Path | None, str | None]:
    """(a file or folder with the recorded sha256, or None; the sha256 of the candidate that differed)."""
    from affect.backbones.weights import checkpoint_dir

    recorded = Path(rec["weights"])
    candidates = [recorded, checkpoint_dir(name) if recorded.is_dir() or not recorded.suffix
                  else checkpoint_dir(name) / recorded.name]
    differed = None
    seen: set[Path] = set()
    for path in [*candidates, None]:
        if path is None:  # last resort: the backbone's own resolver (library cache, a packaged model file)
            path = _resolved_here(name, rec["weights_tag"])
            if path is None:
                break
        if path in seen or not path.exists():
            continue
        seen.add(path)
        sha = weights_sha256(path)
        if sha == rec["weights_sha256"]:
            return path, None
        differed = differed or f"{path} has sha256 {sha[:16]}..."
    return None, differed


def check_reproducible(features: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Refuse (BundleError) a feature set this machine cannot make as the model saw it.

    Returns {backbone: path} for sets whose weights file was found at another place than the
    recorded one (the caller points the config's weights setting at it).
    """
    from affect.backbones.registry import get_spec
    from affect.backbones.weights import checkpoint_dir

    overrides: dict[str, str] = {}
    for name, rec in features.items():
        if rec.get("source") not in ("visual", "speech"):
            raise BundleError(f"feature set {name!r} was made outside the pipeline (source {rec.get('source')!r}, "
                              "align.external): `affect infer` cannot compute it for new videos; export a model "
                              "trained on pipeline features")
        try:
            get_spec(name)
        except KeyError:
            raise BundleError(f"feature set {name!r}: no backbone of that name in this affect: install the affect "
                              "version that made the bundle") from None
        weights = rec["weights"]
        if rec["random"]:
            continue  # rebuilt from the bundle's seed, as stage 02/04 did
        if weights.startswith(OPENSMILE):
            made_with = weights.split()[1]
            here = _opensmile_version()
            if here != made_with:
                raise BundleError(f"feature set {name!r}: made with openSMILE {made_with} ({weights}), this machine "
                                  f"has openSMILE {here}: `pip install opensmile=={made_with}` to reproduce it")
            continue
        if not rec.get("weights_sha256"):
            continue  # nothing on disk was recorded (e.g. a pretrained tag resolved inside its library)
        found, differed = _find_weights(name, rec)
        if found is None:
            where = checkpoint_dir(name) if Path(weights).is_dir() or not Path(weights).suffix \
                else checkpoint_dir(name) / Path(weights).name
            what = (f"different weights: {differed}, the model was trained on sha256 {rec['weights_sha256'][:16]}..."
                    if differed else "missing checkpoint")
            raise BundleError(f"feature set {name!r}: {what} ({weights}); put the exact file the model was trained "
                              f"with at {where} (`affect weights fetch {name}` for a fetchable backbone, then compare "
                              f"its sha256 with {rec['weights_sha256']})")
        if found != Path(weights):
            overrides[name] = str(found)
            log.info("feature set %s: weights found at %s (trained with %s; same sha256)", name, found, weights)
    return overrides


def check_described(features: dict[str, dict[str, Any]], described: dict[str, dict[str, Any]], where: Path) -> None:
    """Compare the backbones a feature stage just used (`backbones.json`) with the bundle's records."""
    for name, rec in features.items():
        if rec["source"] != "visual" and rec["source"] != "speech":
            continue
        here = described.get(name)
        if here is None:
            continue  # the other feature stage's set
        there = rec["describe"]
        for key in sorted(set(there) | set(here)):
            if key == "weights":
                continue
            if here.get(key) != there.get(key):
                raise BundleError(f"feature set {name!r}: {where} made it with {key}={here.get(key)!r}, the model was "
                                  f"trained on {key}={there.get(key)!r}: install the affect version that made the bundle")
        w_here, w_there = str(here.get("weights", "")), rec["weights"]
        if rec["random"] or w_there.startswith(OPENSMILE) or not rec.get("weights_sha256"):
            same = w_here == w_there
        else:
            same = Path(w_here).exists() and weights_sha256(Path(w_here)) == rec["weights_sha256"]
        if not same:
            raise BundleError(f"feature set {name!r}: {where} loaded weights {w_here!r}, the model was trained on "
                              f"{w_there!r} (sha256 {rec.get('weights_sha256')}): they differ")
