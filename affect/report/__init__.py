"""Stages 08 `predict` and 09 `evaluate` components: frame predictions, submissions, reports."""
