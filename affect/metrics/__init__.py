"""Metrics: CCC as the ABAW challenge scores it (numpy), and the CCC loss (torch).

Importing this package does not import torch: the numpy metric (``affect.metrics.ccc``)
is loaded eagerly, the loss (``affect.metrics.loss``) only when one of its names is
first used (``from affect.metrics.loss import ccc_loss`` is the direct way).
"""

from __future__ import annotations

import importlib
from typing import Any

from affect.metrics.ccc import DIMS, Report, UndefinedCCCWarning, ccc, evaluate, p_va

_LOSS_NAMES = ("LOSS_EPS", "ccc_loss", "ccc_torch")


def __getattr__(name: str) -> Any:
    """Load the torch loss lazily (PEP 562), so ``import affect.metrics`` stays torch-free."""
    if name in _LOSS_NAMES:
        return getattr(importlib.import_module("affect.metrics.loss"), name)
    raise AttributeError(f"module 'affect.metrics' has no attribute {name!r}")


__all__ = [
    "DIMS",
    "LOSS_EPS",
    "Report",
    "UndefinedCCCWarning",
    "ccc",
    "ccc_loss",
    "ccc_torch",
    "evaluate",
    "p_va",
]
