"""Faces: detection (MTCNN), target tracking, 5-point alignment and crop storage (stage 01)."""
from affect.face.config import FacesConfig

__all__ = ["FacesConfig"]
