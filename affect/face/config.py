"""`FacesConfig`: the typed config of stage 01 `faces` (detect, track, align, store).

Fields with metadata `hash=False` change speed only, never results; the cache fingerprint
skips them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

NOHASH = {"hash": False}


@dataclass
class FacesConfig:
    """Stage 01 `faces`: how the target face of every frame is found, tracked, aligned and stored."""

    source: str = "detect"  # detect (MTCNN on the videos) | provided (the corpus's cropped_aligned/)
    size: int = 224  # side of the square output crop (pixels)
    template_scale: float = 0.75  # face size vs the tight ArcFace 5-point template (<1 = more context)
    template_shift_y: float = 0.0  # template offset down the crop, as a fraction of `size`
    max_side: int = 640  # frames are shrunk to this longer side for detection (crops come from full size)
    min_face_size: int = 20  # smallest face MTCNN looks for, in detection-resolution pixels
    thresholds: list[float] = field(default_factory=lambda: [0.6, 0.7, 0.7])  # MTCNN P/R/O-net thresholds
    factor: float = 0.709  # MTCNN image-pyramid scale step
    min_score: float = 0.9  # detections below this O-net score are ignored
    max_gap: int = 5  # gaps of at most this many frames inside one track are bridged by interpolation
    track_iou: float = 0.3  # a detection continues a track when its box IoU with it is at least this
    track_dist: float = 0.5  # ... or its centre is within this fraction of the track's box side
    track_window: int = 12  # frames before and after a frame weighed to choose the target track
    major_face: float = 0.5  # for side clips, faces smaller than this fraction of the largest one get no say
    jpeg_quality: int = 95  # JPEG quality of stored crops
    batch_size: int = field(default=32, metadata=NOHASH)  # frames per decode/detect batch (CPU: MTCNN in chunks of 8)
