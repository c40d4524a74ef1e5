"""Cue layouts of the generator (`affect synth --cues NAME`): where valence and arousal show.

The default layout (`corpus.py`'s docstring) puts valence mostly in the face (colour and shape)
and weakly in the voice, arousal mostly in the voice and weakly in the face. A benchmark that
only ever sees that layout can tune itself to it, so each variant moves the dimensions
elsewhere. A cue that a variant silences keeps its own noise (it still changes the face or the
voice, as a distractor) but no longer follows the latent; a variant may also lower a cue's
noise so that a dimension carried by one cue alone stays learnable.

    default          as corpus.py: every cue follows its dimension
    valence-colour   valence only in the face's colour (brightness, tint)
    valence-shape    valence only in the face's shape (mouth corners)
    valence-voice    valence only in the voice (spectral tilt, its noise lowered to 0.2)
    arousal-voice    arousal only in the voice (the face's saturation, brows and head motion silenced)
    voice-no-arousal arousal missing from the voice (only the face's saturation, brows and head motion carry it)

The default layout changes nothing: same draws, same bytes as before variants existed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT = "default"


@dataclass(frozen=True)
class CueLayout:
    """Which cues follow the latent (the others: noise only) and cue noise overrides (std)."""

    name: str
    silent: tuple[str, ...] = ()
    noise: dict[str, float] = field(default_factory=dict)

    def apply(self, truth: dict[str, np.ndarray], noise: dict[str, np.ndarray], std: dict[str, float]
              ) -> dict[str, np.ndarray]:
        """Cue series from each cue's latent dimension (`truth`) and its drawn noise of std `std`."""
        out = {}
        for name, n in noise.items():
            scaled = n * (self.noise[name] / std[name]) if name in self.noise else n
            out[name] = scaled if name in self.silent else truth[name] + scaled
        return out

    def describe(self) -> dict:
        return {"name": self.name, "silent": list(self.silent), "noise": dict(self.noise)}


LAYOUTS = {l.name: l for l in (
    CueLayout(DEFAULT),
    CueLayout("valence-colour", silent=("shape_valence", "voice_valence")),
    CueLayout("valence-shape", silent=("face_valence", "voice_valence")),
    CueLayout("valence-voice", silent=("face_valence", "shape_valence"), noise={"voice_valence": 0.2}),
    CueLayout("arousal-voice", silent=("face_arousal", "motion_arousal", "shape_arousal")),
    CueLayout("voice-no-arousal", silent=("voice_arousal",)),
)}


def cue_layout(name: str) -> CueLayout:
    """The layout called `name`; ValueError listing the others."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown cue layout {name!r}; layouts: {', '.join(LAYOUTS)}")
    return LAYOUTS[name]
