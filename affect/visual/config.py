"""`VisualConfig`: the typed config of stage 02 `visual`."""
from __future__ import annotations

from dataclasses import dataclass, field

NOHASH = {"hash": False}


@dataclass
class VisualConfig:
    """Stage 02 `visual`: embeddings of the aligned face crops, one feature set per backbone."""

    backbones: list[str] = field(default_factory=lambda: ["clip-vit-l14", "resnet50-vggface2", "senet50-vggface2",
                                                          "eva02-large"])  # registered names (affect weights list)
    weights: str = "default"  # default (files / cache / download: affect weights list) | random (say so explicitly)
    weights_for: dict[str, str] = field(default_factory=dict)  # per backbone: name -> tag | file | random | default
    sample: str = "grid"  # grid (only the frames the time grid align.hop needs) | all (every frame)
    batch_size: int = field(default=64, metadata=NOHASH)  # crops per forward pass
    workers: int = field(default=2, metadata=NOHASH)  # data-loader processes decoding and preprocessing crops
    amp: bool = field(default=True, metadata=NOHASH)  # float16 autocast on CUDA
    shard: str = field(default="", metadata=NOHASH)  # k/n: this process takes share k of n; empty = torchrun RANK/WORLD_SIZE
