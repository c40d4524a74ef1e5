"""Where a backbone's weights come from, for every backbone family.

Order, first hit wins:

1. `weights` is an explicit file or folder path (a path that does not exist is an error);
2. `checkpoints/<name>/<filename>` for each of `filenames` (root: `$AFFECT_CHECKPOINTS`, else
   `./checkpoints` under the current directory);
3. the library's own cache, then a download: the caller's `fallback()` (e.g. `hf_hub_download`,
   which answers from the Hugging Face cache and, with `HF_HUB_OFFLINE=1`, fails at once);
4. otherwise `WeightsNotFound`, whose message names the folder to put the file in and the
   command that fills it (`affect weights fetch <name>`) on a machine with internet.

`weights="random"` returns None (and logs a WARNING): random weights only when asked for.

    path = resolve_weights("resnet50", weights, ["model.safetensors"], fetch_hint="...",
                           fallback=lambda: hf_hub_download("timm/resnet50.a1_in1k", "model.safetensors"))

Folder-style models (transformers `from_pretrained`): pass a file the folder must hold, e.g.
`["config.json"]`, and load from `path.parent`. `affect weights fetch NAME...` calls the
fetcher a backbone module registered with `register_fetcher`.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Sequence

log = logging.getLogger(__name__)

RANDOM = "random"
DEFAULT = "default"
CHECKPOINTS_ENV = "AFFECT_CHECKPOINTS"

Fetcher = Callable[[Path, str], list[Path]]  # (destination folder, weights tag or "default") -> files written
_FETCHERS: dict[str, Fetcher] = {}


class WeightsNotFound(RuntimeError):
    """No weights for a backbone in any of the places listed above; the message says how to get them."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


def checkpoints_root() -> Path:
    """`$AFFECT_CHECKPOINTS`, else `checkpoints/` under the current directory (the repository root)."""
    return Path(os.environ.get(CHECKPOINTS_ENV) or Path.cwd() / "checkpoints").absolute()


def checkpoint_dir(name: str) -> Path:
    """The folder where `affect weights fetch <name>` puts, and `resolve_weights` looks for, its files."""
    return checkpoints_root() / name


def looks_like_path(weights: str) -> bool:
    """True when `weights` names a file or folder rather than a keyword (default / random) or a pretrained tag."""
    if weights in (DEFAULT, RANDOM):
        return False
    return os.sep in weights or "/" in weights or weights.startswith(("~", ".")) or Path(weights).exists() \
        or Path(weights).suffix in (".pt", ".pth", ".bin", ".safetensors", ".pkl", ".npz", ".ckpt")


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def resolve_weights(name: str, weights: str, filenames: Sequence[str], fetch_hint: str = "",
                    fallback: Callable[[], Path | str | None] | None = None) -> Path | None:
    """The weights file for backbone `name`, or None for `weights="random"`; raises `WeightsNotFound`.

    name: the registered backbone name (its `checkpoints/<name>/` folder).
    weights: "random" | "default" | a pretrained tag (the caller turns it into `filenames`) | a path.
    filenames: what to look for in `checkpoints/<name>/` (and in an explicit folder), in order.
    fetch_hint: a sentence appended to the error (e.g. where to get files that cannot be fetched).
    fallback: the library's own cache and download (returns a path, None or raises); skipped when absent.
    """
    if _probing:
        raise _Located(_locate(name, weights, filenames, fetch_hint, fallback))
    return _locate(name, weights, filenames, fetch_hint, fallback)


def _locate(name: str, weights: str, filenames: Sequence[str], fetch_hint: str,
            fallback: Callable[[], Path | str | None] | None) -> Path | None:
    if weights == RANDOM:
        if not _probing:
            log.warning("%s: random weights (weights=random): its features are NOT pretrained", name)
        return None
    if looks_like_path(weights):
        return _explicit(name, Path(weights).expanduser(), filenames)
    folder = checkpoint_dir(name)
    for filename in filenames:
        if (folder / filename).is_file():
            log.log(logging.DEBUG if _probing else logging.INFO, "%s: weights from %s", name, folder / filename)
            return folder / filename
    if _probing and fallback is not None and not offline():  # a dry run never downloads
        raise _Located(Path(f"(not in {folder}: the library's cache, then a download, will be tried)"))
    if fallback is not None:
        start = time.perf_counter()
        try:
            found = fallback()
        except Exception as e:  # offline hub, missing cache entry, network error: all mean "not here"
            log.debug("%s: library cache / download failed after %.1f s: %s", name, time.perf_counter() - start, e)
            found = None
        if found is not None and Path(found).exists():
            log.info("%s: weights from the library cache %s", name, found)
            return Path(found)
    raise WeightsNotFound(name, not_found_message(name, weights, filenames, fetch_hint))


_probing = False  # set by `probe_weights`: resolve_weights reports where the weights are and builds nothing


class _Located(Exception):
    """Raised by resolve_weights while probing: carries the path found (None: random weights)."""

    def __init__(self, path: Path | None):
        super().__init__(str(path))
        self.path = path


def probe_weights(name: str, weights: str) -> tuple[bool, str]:
    """Whether backbone `name` would find its weights, without building it: (ok, what / why not).

    Runs the backbone's own factory up to its `resolve_weights` call (which, while probing, raises
    instead of returning), so the places looked in are the ones a real run uses."""
    global _probing
    from affect.backbones.registry import create_backbone, get_spec

    spec = get_spec(name)
    if spec.family in BUNDLED_FAMILIES:
        return True, "bundled with its package"
    _probing = True
    try:
        create_backbone(name, weights=weights)
    except _Located as found:
        return True, "random weights (weights=random)" if found.path is None else str(found.path)
    except WeightsNotFound as e:
        return False, str(e)
    except (ValueError, KeyError) as e:  # an unknown tag...
        return False, f"backbone {name!r}: {e}"
    finally:
        _probing = False
    return True, "no weights file needed"


def not_found_message(name: str, weights: str, filenames: Sequence[str], fetch_hint: str = "") -> str:
    folder = checkpoint_dir(name)
    files = ", ".join(filenames)
    where = f"{folder}/{filenames[0]}" if len(filenames) == 1 else f"{folder}/ (one of: {files})" if files \
        else f"{folder}/"
    mode = "HF_HUB_OFFLINE=1, so no download was tried" if offline() else "the download failed"
    command = f"affect weights fetch {name}" + (f" --tag {weights}" if weights not in (DEFAULT, RANDOM) else "")
    msg = (f"no weights for backbone {name!r} (weights={weights!r}): put the file at {where} "
           f"(or pass weights=<path to the file>), or run `{command}` on a machine with "
           f"internet and copy {folder} here ({mode}); weights=random runs without pretrained weights.")
    return f"{msg} {fetch_hint}".strip()


def _explicit(name: str, path: Path, filenames: Sequence[str]) -> Path:
    if path.is_file():
        log.info("%s: weights from %s", name, path)
        return path
    if path.is_dir():
        for filename in filenames:
            if (path / filename).is_file():
                log.info("%s: weights from %s", name, path / filename)
                return path / filename
        raise WeightsNotFound(name, f"backbone {name!r}: folder {path} holds none of {', '.join(filenames)}")
    raise WeightsNotFound(name, f"backbone {name!r}: weights file {path} does not exist")


# `affect weights fetch` ------------------------------------------------------------------
def register_fetcher(name: str) -> Callable[[Fetcher], Fetcher]:
    """Register how to download backbone `name`'s weights into `checkpoints/<name>/`."""

    def decorator(fn: Fetcher) -> Fetcher:
        _FETCHERS[name] = fn
        return fn

    return decorator


def fetchable() -> list[str]:
    from affect.backbones.registry import list_backbones

    list_backbones()  # imports the backbone modules, which register their fetchers
    return sorted(_FETCHERS)


def fetch_weights(name: str, weights: str = DEFAULT) -> list[Path]:
    """Download backbone `name`'s weights (tag `weights`) into `checkpoints/<name>/`; returns the files."""
    if name not in fetchable():
        raise KeyError(f"backbone {name!r} has no fetcher; fetchable: {', '.join(fetchable())}")
    folder = checkpoint_dir(name)
    existed = folder.exists()
    try:
        files = _FETCHERS[name](folder, weights)
    except BaseException:
        if not existed:  # leave no empty folder (or hub lock files) behind
            shutil.rmtree(folder, ignore_errors=True)
        raise
    for f in files:
        log.info("%s: fetched %s", name, f)
    return files


# `affect weights list` / `affect weights fetch` ------------------------------------------
BUNDLED_FAMILIES = ("opensmile", "dlib")  # their models ship inside their pip packages


def weights_kind(name: str) -> str:
    """How backbone `name` gets weights: `bundled` (in its package), `fetch` (affect weights fetch), `random only`
    (a small test architecture with no published weights), or `old name of X` for a deprecated alias."""
    from affect.backbones.registry import get_spec

    spec = get_spec(name)
    if spec.alias_of:
        return f"old name of {spec.alias_of}"
    if spec.family in BUNDLED_FAMILIES:
        return "bundled"
    return "fetch" if name in fetchable() else "random only"


def weights_table() -> str:
    """One line per registered backbone: modality, family, tiny, weights (fetch / bundled / random only),
    what `checkpoints/<name>/` holds; deprecated old names last."""
    from affect.backbones.registry import _REGISTRY, get_spec, list_backbones

    names = list_backbones(aliases=False)
    lines = [f"checkpoints root: {checkpoints_root()} (${CHECKPOINTS_ENV} to change)",
             f"{'name':<22} {'modality':<8} {'family':<10} {'tiny':<5} {'weights':<12} checkpoints/<name>/"]
    for name in names:
        spec = get_spec(name)
        folder = checkpoint_dir(name)
        files = [p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts] if folder.is_dir() else []
        held = f"{len(files)} file(s), {sum(p.stat().st_size for p in files) / 1e6:.0f} MB" if files else "-"
        lines.append(f"{name:<22} {spec.modality:<8} {spec.family:<10} {'yes' if spec.tiny else '':<5} "
                     f"{weights_kind(name):<12} {held}")
    old = sorted(n for n, s in _REGISTRY.items() if s.alias_of)
    if old:
        lines.append("deprecated names (still accepted): " + ", ".join(f"{n} -> {_REGISTRY[n].alias_of}" for n in old))
    lines.append("weights: fetch = `affect weights fetch NAME` fills checkpoints/<name>/; bundled = ships with its "
                 "package; random only = no published weights (run with weights=random)")
    return "\n".join(lines) + "\n"


def fetch_many(names: Sequence[str], weights: str = DEFAULT) -> int:
    """`affect weights fetch NAME...`: each into `checkpoints/<name>/`; returns how many failed (each logged)."""
    failed = 0
    for name in names:
        try:
            files = fetch_weights(name, weights)
            log.info("%s: %d file(s) in %s", name, len(files), checkpoint_dir(name))
        except Exception as e:  # one failure does not stop the others
            failed += 1
            log.error("%s: fetch failed: %s%s", name, e,
                      " (HF_HUB_OFFLINE=1 is set: unset it on a machine with internet)" if offline() else "")
    return failed
