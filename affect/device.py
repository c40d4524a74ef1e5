"""The compute device, chosen at run time (never at import)."""
from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` → the first CUDA device if there is one, else the CPU; `cuda` without CUDA fails.

    Under torchrun (`LOCAL_RANK` set), `cuda` without an index is this process's GPU on its node,
    `cuda:LOCAL_RANK`, made the current device (NCCL needs it).
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but CUDA is not available here; use --device cpu")
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    log.info("device: %s", device)
    return device
