"""A trained model as a self-contained bundle: what `affect export` writes and `affect infer` reads.

A bundle is a folder (or one `.tar` of it) that holds everything needed to predict on videos
that were never part of a corpus: every ensemble member's weights (plain state dicts), their
model spec and normalisation statistics, the feature sets with the backbone, weights tag and
sha256 of each weights file, the training config that produced the features (faces, visual,
audio, speech, align), the smoothing windows stage 08 chose, and a model card.

    affect/bundle/format.py     layout, version, hashes; `write_bundle`, `open_bundle` -> `Bundle`
    affect/bundle/features.py   the feature-set records and the check that they can be reproduced here
    affect/bundle/card.py       the model card (README.md)
    affect/bundle/predict.py    predictions for one aligned clip, as stage 08 makes them
    affect/bundle/outputs.py    per-video CSV, VA-trace plot, summary table

Components only: nothing here imports `affect.stages`; `affect.cli.infer` (an entry package, like
the CLI) runs the stages and writes bundles from a trained config.
"""
from affect.bundle.format import BUNDLE_VERSION, Bundle, BundleError, open_bundle

__all__ = ["BUNDLE_VERSION", "Bundle", "BundleError", "open_bundle"]
