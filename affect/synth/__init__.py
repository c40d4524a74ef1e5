"""A deterministic synthetic ABAW-style corpus: demo data, end-to-end fixture and accuracy benchmark.

`generate_corpus(out, clips=6, seconds=20, seed=0)` writes videos (a real face photograph moving
over a textured background, a synthetic voice in room noise), Aff-Wild2-style label files, the
latent truth and a record of every awkward case it planted. See `corpus.py`; `variants.py` holds the
cue layouts (`generate_corpus(..., cues="valence-voice")`, `affect synth --cues NAME`).
"""
from affect.synth.corpus import generate_corpus

__all__ = ["generate_corpus"]
