"""The bundle on disk: layout, version number, hashes, writing and opening (folder or `.tar`).

Layout of a bundle folder::

    bundle.json                  format, version, model, members, feature sets, smoothing, training
                                 facts, and the sha256 of every other file (integrity)
    config.yaml                  the resolved training config (faces/visual/audio/speech/align
                                 settings that made the features; `affect infer` runs with them)
    members/<run>/weights.pt     a plain state dict (tensors only: torch.load(weights_only=True))
    members/<run>/member.json    run name, kind, model spec, per-set normalisation, validation scores
    README.md                    the model card

Opening checks, each failure a `BundleError` whose one-line message names the file: the folder
holds `bundle.json` of this format; its version is not newer than `BUNDLE_VERSION`; every file
it lists is present with the recorded sha256 (a truncated or tampered bundle is refused).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tarfile
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from affect.cache import atomic

log = logging.getLogger(__name__)

FORMAT = "affect-bundle"
BUNDLE_VERSION = 1  # bump when a reader of the previous version could not use a new bundle
BUNDLE_JSON = "bundle.json"
CONFIG = "config.yaml"
CARD = "README.md"
MEMBERS = "members"
WEIGHTS = "weights.pt"
MEMBER_JSON = "member.json"


class BundleError(ValueError):
    """A bundle that cannot be used here; the message is one line naming the file and what to do."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("affect")
    except PackageNotFoundError:
        return "unknown"


def member_folder(run: str) -> str:
    """A run name as a folder name ("unimodal/egemaps@fold1" -> "unimodal__egemaps@fold1")."""
    return run.replace("/", "__")


@dataclass
class Member:
    """One trained run of the bundle's model (a seed or a fold)."""

    name: str
    folder: Path
    record: dict[str, Any]  # member.json
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> dict[str, Any]:
        return self.record["spec"]

    @property
    def norm(self) -> dict[str, dict[str, list[float]]]:
        return self.record["norm"]

    @property
    def features(self) -> list[str]:
        return list(self.spec["features"])

    def model(self, device: str = "cpu"):
        """The regressor in eval mode, built from the spec and the plain state dict (weights_only=True)."""
        if device not in self._models:
            import torch

            from affect.models import build_model

            state = torch.load(self.folder / WEIGHTS, map_location=device, weights_only=True)
            model = build_model(self.spec).to(device)
            model.load_state_dict(state)
            self._models[device] = model.eval()
        return self._models[device]


@dataclass
class Bundle:
    """An opened, checked bundle."""

    source: Path  # what was opened (folder or .tar)
    path: Path  # the folder read (the extracted copy for a .tar)
    info: dict[str, Any]
    members: list[Member]

    @property
    def model_name(self) -> str:
        return self.info["model"]

    @property
    def features(self) -> dict[str, dict[str, Any]]:
        """Feature set -> its record (modality, dim, backbone, weights tag/description/sha256, random)."""
        return self.info["features"]

    @property
    def smoothing(self):
        from affect.report.smoothing import Smoothing

        s = self.info["smoothing"]
        return Smoothing(kind=s["kind"], window_s=dict(s["window_s"]), chosen_on=s.get("chosen_on", ""))

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    def describe(self) -> str:
        windows = ", ".join(f"{d} {w:g} s" for d, w in self.info["smoothing"]["window_s"].items())
        return (f"{self.model_name} ({len(self.members)} member(s); features {', '.join(self.features)}; "
                f"smoothing {windows}) from corpus {self.info['training'].get('corpus', '?')}")


def write_bundle(out: Path, info: dict[str, Any], members: dict[str, dict[str, Any]], config_yaml: str,
                 card: str) -> Path:
    """Write a bundle folder (or `.tar` when `out` ends with .tar) atomically; returns `out`.

    `members`: run name -> {"state_dict": the model's state dict, "record": member.json content}.
    `info`: bundle.json without `format`, `version`, `members` and `files` (added here).
    """
    import torch

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="affect-export-") as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        listed = []
        for run, m in members.items():
            d = folder / MEMBERS / member_folder(run)
            d.mkdir(parents=True)
            state = {k: v.detach().cpu().clone() for k, v in m["state_dict"].items()}
            torch.save(state, d / WEIGHTS)
            (d / MEMBER_JSON).write_text(json.dumps(m["record"], indent=1) + "\n")
            listed.append({"run": run, "folder": f"{MEMBERS}/{member_folder(run)}"})
        (folder / CONFIG).write_text(config_yaml)
        (folder / CARD).write_text(card)
        files = {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}
        record = {"format": FORMAT, "version": BUNDLE_VERSION, **info, "members": listed, "files": files}
        (folder / BUNDLE_JSON).write_text(json.dumps(record, indent=1) + "\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".tar":
            with atomic.atomic_path(out) as tmp_tar:
                with tarfile.open(tmp_tar, "w") as tar:
                    tar.add(folder, arcname=out.stem)
        else:
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            with atomic.atomic_dir(out) as tmp_dir:
                for p in folder.iterdir():
                    shutil.move(str(p), tmp_dir / p.name)
    return out


def _extract(path: Path) -> tuple[Path, Path]:
    """(temporary folder, the bundle folder inside it): a `.tar` bundle unpacked."""
    tmp = Path(tempfile.mkdtemp(prefix="affect-bundle-"))
    try:
        with tarfile.open(path, "r") as tar:
            tar.extractall(tmp, filter="data")
    except (tarfile.TarError, EOFError, OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"{path}: unreadable bundle archive ({type(e).__name__}: {e}); the file is truncated "
                          "or not a bundle: copy or export it again") from None
    found = [p.parent for p in tmp.rglob(BUNDLE_JSON)]
    if len(found) != 1:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BundleError(f"{path}: the archive holds {len(found)} bundle.json files, expected 1 (truncated archive?)")
    return tmp, found[0]


def open_bundle(path: str | Path) -> Bundle:
    """Open and check a bundle folder or `.tar`; raises `BundleError` (one line, naming the file)."""
    source = Path(path)
    if source.is_dir():
        return _read(source, source)
    if not source.is_file():
        raise BundleError(f"{source}: no such bundle (a folder or .tar written by `affect export`)")
    tmp, folder = _extract(source)
    try:
        bundle = _read(source, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    weakref.finalize(bundle, shutil.rmtree, str(tmp), True)  # the unpacked copy lives as long as the bundle
    return bundle


def _read(source: Path, folder: Path) -> Bundle:
    meta = folder / BUNDLE_JSON
    try:
        info = json.loads(meta.read_text())
    except FileNotFoundError:
        raise BundleError(f"{source}: not a bundle: no {BUNDLE_JSON} (write one with `affect export`)") from None
    except (OSError, ValueError) as e:
        raise BundleError(f"{meta}: unreadable ({e}); the bundle is damaged: export it again") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise BundleError(f"{meta}: not an affect bundle (format {info.get('format') if isinstance(info, dict) else None!r})")
    version = info.get("version")
    if not isinstance(version, int) or version > BUNDLE_VERSION:
        raise BundleError(f"{source}: bundle version {version} is newer than this affect (version "
                          f"{package_version()}) reads (up to {BUNDLE_VERSION}): upgrade affect to use it")
    for rel, expected in info.get("files", {}).items():
        p = folder / rel
        if not p.is_file():
            raise BundleError(f"{p}: missing from the bundle (truncated copy?): copy or export it again")
        got = sha256_file(p)
        if got != expected:
            raise BundleError(f"{p}: sha256 {got[:16]}... differs from {expected[:16]}... recorded in bundle.json: "
                              "the file was changed or damaged; export the bundle again")
    members = []
    for m in info.get("members", []):
        d = folder / m["folder"]
        if f"{m['folder']}/{WEIGHTS}" not in info.get("files", {}):
            raise BundleError(f"{d / WEIGHTS}: not listed with a sha256 in bundle.json; export the bundle again")
        members.append(Member(m["run"], d, json.loads((d / MEMBER_JSON).read_text())))
    if not members:
        raise BundleError(f"{meta}: the bundle lists no members; export it again")
    return Bundle(source=source, path=folder, info=info, members=members)
