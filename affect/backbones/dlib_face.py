"""`dlib-face128`: dlib's 128-D face descriptor (a ResNet-29 trained for identity, 99.38% on LFW)
on the aligned crop.

dlib aligns the face itself from its 5-point shape predictor (eye corners, nose base; fitted in
the template box, see dlib_crops) into a 150 px chip with 25% padding, then runs the network.
Identity features carry little affect, but they are a real pretrained embedding available
everywhere, and a fair "what does identity alone explain" row in the unimodal table.
About 60 ms per crop on one CPU core. Failed crops (blank, no face in the box) are NaN rows.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from affect.backbones.base import VisualBackbone
from affect.backbones.dlib_crops import DlibCropBackbone, resolve_model_file
from affect.backbones.dlib_models import model_path
from affect.backbones.registry import register_backbone

log = logging.getLogger(__name__)

CHIP_SIZE = 150  # the network's input, as dlib's face_recognition examples use it
CHIP_PADDING = 0.25


class DlibFace128(DlibCropBackbone):
    """5-point fit -> 150 px face chip -> dlib ResNet -> 128-D descriptor (distance < 0.6: same person, for dlib)."""

    name = "dlib-face128"
    dim = 128
    n_parts = 5
    layer = "dlib_face_recognition_resnet_model_v1 descriptor"

    def __init__(self, weights: str = "default", box: str = "template", input_size: int = 224,
                 template_scale: float = 0.75, template_shift_y: float = 0.0) -> None:
        self.net_file = resolve_model_file(self.name, weights, "face_recognition_resnet")
        self.weights = str(self.net_file)
        super().__init__(model_path("shape_predictor_5"), box, input_size, template_scale, template_shift_y)
        self._net: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_net": None}

    def forward(self, batch: np.ndarray) -> np.ndarray:
        import dlib

        if self._net is None:
            self._net = dlib.face_recognition_model_v1(str(self.net_file))
        batch = self.preprocess(batch)  # a no-op on a preprocessed batch
        out = np.full((len(batch), self.dim), np.nan, np.float32)
        _, shapes = self.fit(batch)
        ok = [i for i, s in enumerate(shapes) if s is not None]
        if ok:
            chips = [dlib.get_face_chip(batch[i], shapes[i], CHIP_SIZE, CHIP_PADDING) for i in ok]
            out[ok] = np.array(self._net.compute_face_descriptor(chips, 0), np.float32)
        return out

    def extra_info(self) -> dict[str, Any]:
        return {**super().extra_info(), "net_file": Path(self.net_file).name}


@register_backbone("dlib-face128", modality="visual", family="dlib",
                   description="dlib ResNet face descriptor (identity) on the aligned crop, D=128; no download")
def dlib_face128(weights: str = "default", **kwargs: Any) -> VisualBackbone:
    """kwargs: box (template | detect), input_size, template_scale, template_shift_y; others ignored."""
    known = {k: kwargs.pop(k) for k in ("box", "input_size", "template_scale", "template_shift_y") if k in kwargs}
    if kwargs:
        log.debug("dlib-face128: ignoring options %s", sorted(kwargs))
    return DlibFace128(weights, **known)
