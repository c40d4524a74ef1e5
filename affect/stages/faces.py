"""Stage 01 `faces`: the target face of every frame, detected, tracked and aligned.

Per clip: the aligned crops and `faces.npz` (found / source / score / box / landmarks),
exactly one row per frame of the manifest (see `affect.face.extract`).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from affect.data.manifest import resolve
from affect.stages.base import ClipError
from affect.stages.sharded import ShardedClipStage

log = logging.getLogger(__name__)


class FacesStage(ShardedClipStage):
    name = "faces"
    number = 1
    version = 2  # 2: one subject per clip chosen over the whole clip, re-identification, upright rotated videos

    def variant(self) -> str:
        return f"{self.cfg.faces.source}{self.cfg.faces.size}"

    def shard_spec(self) -> str:  # faces.shard=k/n, else torchrun's RANK/WORLD_SIZE
        return self.cfg.faces.shard

    def setup(self) -> None:  # torch, facenet-pytorch and PyAV are imported here, where the work starts
        if self.cfg.faces.source == "detect":
            from affect.device import resolve_device
            from affect.face.detect import FaceDetector
            from affect.face.reid import load_embedder

            self.detector = FaceDetector(self.cfg.faces, resolve_device(self.cfg.device))
            self.embedder, why = load_embedder(self.cfg.faces.reid)
            (log.info if self.embedder is not None or self.cfg.faces.reid == "geometry" else log.warning)("faces: %s", why)
        elif self.cfg.faces.source != "provided":
            raise ValueError(f"faces.source must be 'detect' or 'provided', got {self.cfg.faces.source!r}")

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        from affect.face.extract import extract_faces, faces_from_provided
        from affect.video.decode import VideoError

        root = self.cfg.corpus.root
        if self.cfg.faces.source == "provided":
            if not clip["crops_dir"]:
                raise ClipError(Path(root) / self.cfg.corpus.cropped_dir / clip["clip"],
                                "faces.source=provided but the corpus has no aligned crops for this clip")
            summary = faces_from_provided(resolve(root, clip["crops_dir"]), out, frames=int(clip["frames"]), cfg=self.cfg.faces)
        else:
            video = resolve(root, clip["video_path"])
            try:
                summary = extract_faces(video, out, frames=int(clip["frames"]), side=clip["side"],
                                        cfg=self.cfg.faces, detector=self.detector, embedder=self.embedder)
            except VideoError as e:
                raise ClipError(video, str(e).removeprefix(f"{video}: ")) from None
        for key in ("seconds", "seconds_crops"):  # timings go to the log, not into outputs that must be reproducible
            summary.pop(key, None)
        return summary
