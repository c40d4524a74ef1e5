"""Stage 02 `visual`: embeddings of stage 01's aligned face crops, one feature set per backbone.

Per clip, `clips/<clip>/<backbone>.npz` (`affect.cache.series`: float16 values, row times,
mask, rate); `backbones.json` (each backbone's `describe()`: weights, layer, dim, transform)
beside them. Rows are every frame (`visual.sample=all`) or the frames the time grid of
`align.hop` needs (`grid`; the hop enters the fingerprint). Frames without a face, crops
that do not decode and non-finite outputs are masked, never filled in.

Several processes can share the work (`visual.shard=k/n`, or torchrun's RANK/WORLD_SIZE):
`ShardedClipStage` gives each a fixed share of the clips, and the last to finish writes the
done marker once every clip is written or recorded as failed.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from affect.cache import atomic
from affect.stages.base import ClipError, InputError
from affect.stages.clip_stage import short_describe
from affect.stages.sharded import ShardedClipStage

log = logging.getLogger(__name__)

BACKBONES_JSON = "backbones.json"


class VisualStage(ShardedClipStage):
    name = "visual"
    number = 2
    version = 1
    requires = ("prepare", "faces")

    # identity --------------------------------------------------------------------------
    @property
    def sample(self) -> str:
        sample = self.cfg.visual.sample
        if sample not in ("grid", "all"):
            raise InputError(f"visual.sample must be 'grid' or 'all', got {sample!r}")
        return sample

    @property
    def hop(self) -> float:
        """Seconds between sampled rows: align.hop for sample=grid (0 = every frame), 0 for sample=all."""
        return float(self.cfg.align.hop) if self.sample == "grid" else 0.0

    def variant(self) -> str:
        return f"grid{self.cfg.align.hop:g}" if self.sample == "grid" else "all"

    def extra_inputs(self) -> dict[str, str]:
        return {"grid_hop": repr(self.hop)} if self.sample == "grid" else {}

    def weights_for(self, name: str) -> str:
        return self.cfg.visual.weights_for.get(name, self.cfg.visual.weights)

    def shard_spec(self) -> str:
        return self.cfg.visual.shard

    # work ------------------------------------------------------------------------------
    def setup(self) -> None:
        import torch

        from affect.backbones.registry import create_backbone, get_spec
        from affect.device import resolve_device

        self.device = device = resolve_device(self.cfg.device)  # under torchrun: cuda:LOCAL_RANK
        self.backbones = []
        for name in self.cfg.visual.backbones:
            if get_spec(name).modality != "visual":
                raise ValueError(f"visual.backbones: {name!r} is a {get_spec(name).modality} backbone")
            torch.manual_seed(self.cfg.seed)  # random weights: the same in every process and rerun
            bb = create_backbone(name, weights=self.weights_for(name), amp=self.cfg.visual.amp).to(device)
            log.info("visual: %s: %s", name, short_describe(bb.describe()))  # the RANDOM-weights warning: weights.py
            self.backbones.append(bb)
        atomic.write_json(self.output.path / BACKBONES_JSON, {bb.name: bb.describe() for bb in self.backbones})
        cap = os.environ.get("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "")
        if device.type == "cpu" and len(self.backbones) > 1 and cap.isdigit() and int(cap) < 1024:
            log.info("visual: oneDNN's primitive cache is capped at %s in this process (stage 01 caps it to keep its "
                     "memory flat; oneDNN reads the cap once per process): every batch re-creates the backbones' "
                     "primitives, ~1.4%% slower for ResNet-50 + SE-ResNet-50 at batch 8, ~17%% for the tiny demo "
                     "backbones (benchmarks/visual_bench.py); `affect visual ...` in its own process avoids it", cap)

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        from affect.cache.series import save_series
        from affect.visual.extract import extract_clip

        crop_dir = self.upstream_output("faces").clip_dir(clip["clip"])
        if not crop_dir.is_dir():
            raise ClipError(crop_dir, "stage 01 wrote no crops for this clip (see its errors.csv)")
        try:
            feats = extract_clip(crop_dir, frames=int(clip["frames"]), fps=float(clip["fps"]), hop=self.hop,
                                 backbones=self.backbones, batch_size=self.cfg.visual.batch_size,
                                 workers=self.cfg.visual.workers, pin_memory=self.device.type == "cuda")
        except FileNotFoundError as e:
            raise ClipError(crop_dir, f"crop store unreadable: {e}") from None
        for name, series in feats.series.items():
            save_series(out / f"{name}.npz", series)
        return feats.summary
