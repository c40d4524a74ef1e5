"""Video input and output: streaming decode (and a small encoder) with PyAV."""
from affect.video.decode import FrameBatch, VideoError, VideoInfo, VideoReader, iter_frames, probe_video
from affect.video.encode import write_video

__all__ = ["FrameBatch", "VideoError", "VideoInfo", "VideoReader", "iter_frames", "probe_video", "write_video"]
