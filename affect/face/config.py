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
    track_window: int = 12  # a track not detected for more than this many frames ends
    track_similarity: float = 0.75  # a face whose grey thumbnail correlates less than this with its track's last one starts a new track (a cut; measured: same face >= 0.875, two people <= 0.64)
    major_face: float = 0.5  # for side clips, faces smaller than this fraction of the largest one get no say
    reid: str = "auto"  # re-identification after a track ends: auto (dlib if installed, else geometry) | dlib | geometry
    reid_threshold: float = 0.5  # dlib descriptor distance at or below which two tracks are one person (measured)
    reid_samples: int = 5  # descriptors computed per track (at most)
    reid_every: int = 25  # frames between two descriptors of one track
    reid_dist: float = 1.0  # geometry: a later track continues a person if it starts within this x face side of where they were last seen
    reid_size: float = 1.5  # ... and its face side differs by at most this factor
    jpeg_quality: int = 95  # JPEG quality of stored crops
    batch_size: int = field(default=32, metadata=NOHASH)  # frames per decode/detect batch (CPU: MTCNN in chunks of 8)
    reader_thread: bool = field(default=True, metadata=NOHASH)  # decode and resize in a thread, overlapping detection
    shard: str = field(default="", metadata=NOHASH)  # k/n: this process takes share k of n; empty = torchrun RANK/WORLD_SIZE
