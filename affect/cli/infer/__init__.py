"""Trained models outside their corpus: `affect export` (a bundle) and `affect infer` (any videos).

Part of the entry layer (the CLI package): it drives the stages (`affect.stages`), which components
(`affect.bundle` among them) never import.

    affect/cli/infer/export.py   a finished training config's model -> a bundle
    affect/cli/infer/corpus.py   a one-video corpus (clip list) under the cache root, and stages 00-05 on it
    affect/cli/infer/model.py    `InferenceModel` (`affect.load_model`): a checked bundle, `predict_video`
    affect/cli/infer/run.py      `affect infer`: many videos, outputs, one-line errors, optional rendering
"""
