"""Trained models outside their corpus: `affect export` (a bundle) and `affect infer` (any videos).

An entry package, like the CLI: it drives the stages (`affect.stages`), which components
(`affect.bundle` among them) never import.

    affect/infer/export.py   a finished training config's model -> a bundle
    affect/infer/corpus.py   a one-video corpus (clip list) under the cache root, and stages 00-05 on it
    affect/infer/model.py    `InferenceModel` (`affect.load_model`): a checked bundle, `predict_video`
    affect/infer/run.py      `affect infer`: many videos, outputs, one-line errors, optional rendering
"""
