"""Metrics: CCC as the ABAW challenge scores it (numpy) and the CCC loss (torch)."""

from affect.metrics.ccc import DIMS, Report, UndefinedCCCWarning, ccc, evaluate, p_va
from affect.metrics.loss import LOSS_EPS, ccc_loss, ccc_torch

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
