"""affect: continuous valence-arousal recognition from face video and speech."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def load_model(bundle: str | Path, cache_root: str | Path = "features", device: str = "auto") -> Any:
    """A bundle written by `affect export`, checked and ready to predict any video:

        model = affect.load_model("fusion.bundle")
        frames = model.predict_video("interview.mp4")  # DataFrame: frame, time_s, valence, arousal, face

    `cache_root`: where the per-video stage outputs are kept (a video given again is not recomputed).
    Returns an `affect.cli.infer.model.InferenceModel` (imported here, where it is used: `import affect` stays light).
    """
    from affect.cli.infer.model import load_model as _load

    return _load(bundle, cache_root=cache_root, device=device)
