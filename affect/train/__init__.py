"""Stages 05-07 components: aligned data, models, the training loop."""
