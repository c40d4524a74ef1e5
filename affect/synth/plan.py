"""Which video is which: names, splits, frame rates, people, and the awkward cases of the real corpus.

With N clips: if N >= 3, video s000 shows two people (clips s000_left and s000_right, each one
clip of N), so there are N-1 videos; otherwise N single-person videos. Splits are by video:
about 60% train, 25% validation (at least one when there are 2+ videos) and at least one test
video when N >= 4; the two-person video is in train. Awkward cases by video index i:

- frame rate cycles 30, 25, 15, 30000/1001 fps;
- a no-face stretch of 1-2 s on odd i (the face leaves the frame when i % 4 == 1, an occluder
  hides it when i % 4 == 3), and on s000 when there is a single video;
- a -5 stretch of about 1 s in the label file of s000_left (or s000) and of every even-i video;
- label files longer or shorter than the video: +3, -2, 0, +2, -1, 0, ... over labelled clips;
- s003 has no audio stream (never the two-person video).

Stretch lengths shrink with short clips (at most 35% / 25% of the clip) so that 3 s clips keep
every case.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

FRAME_RATES = (Fraction(30), Fraction(25), Fraction(15), Fraction(30000, 1001))
COUNT_DIFFS = (3, -2, 0, 2, -1, 0)
SINGLE_SIZE = (320, 240)
DUAL_SIZE = (384, 256)


@dataclass
class ClipPlan:
    clip: str
    side: str | None
    split: str
    person: int  # 0 = the astronaut, 1 = mirrored and recoloured
    count_diff: int | None  # label lines minus video frames; None for test clips
    invalid_s: tuple[float, float] | None = None  # (start, length) in seconds of the -5 stretch
    no_face: tuple[str, float, float] | None = None  # (kind, start s, stop s): "exit" or "occlusion"


@dataclass
class VideoPlan:
    video: str
    index: int
    split: str
    fps: Fraction
    frames: int
    size: tuple[int, int]
    has_audio: bool
    sample_rate: int
    channels: int
    clips: list[ClipPlan] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return float(self.frames / self.fps)


def split_counts(videos: int, clips: int) -> tuple[int, int, int]:
    """(train, validation, test) video counts."""
    n_test = max(1, int(round(0.15 * videos))) if clips >= 4 else 0
    n_val = max(1, int(round(0.25 * videos))) if videos >= 2 else 0
    return videos - n_test - n_val, n_val, n_test


def plan_corpus(clips: int, seconds: float, seed: int) -> list[VideoPlan]:
    if clips < 1:
        raise ValueError(f"clips must be >= 1, got {clips}")
    if seconds < 2.0:
        raise ValueError(f"seconds must be >= 2 (room for the no-face and -5 stretches), got {seconds}")
    two_person = clips >= 3
    n_videos = clips - 1 if two_person else clips
    n_train, n_val, _ = split_counts(n_videos, clips)
    rng = np.random.default_rng([seed, 0xC0])
    videos: list[VideoPlan] = []
    labelled = 0
    for i in range(n_videos):
        split = "train" if i < n_train else "validation" if i < n_train + n_val else "test"
        fps = FRAME_RATES[i % len(FRAME_RATES)]
        dual = two_person and i == 0
        vp = VideoPlan(
            video=f"s{i:03d}", index=i, split=split, fps=fps, frames=int(round(seconds * fps)),
            size=DUAL_SIZE if dual else SINGLE_SIZE, has_audio=i != 3,
            sample_rate=48000 if i % 2 == 0 else 44100, channels=2 if dual or i % 3 == 2 else 1,
        )
        sides = ("left", "right") if dual else (None,)
        for k, side in enumerate(sides):
            clip = f"{vp.video}_{side}" if side else vp.video
            person = k if dual else i % 2
            diff = None
            if split != "test":
                diff = COUNT_DIFFS[labelled % len(COUNT_DIFFS)]
                labelled += 1
            cp = ClipPlan(clip=clip, side=side, split=split, person=person, count_diff=diff)
            if split != "test" and k == 0 and i % 2 == 0:
                length = min(rng.uniform(0.8, 1.2), 0.25 * seconds)
                cp.invalid_s = (rng.uniform(0.1 * seconds, 0.9 * seconds - length), length)
            if not dual and (i % 2 == 1 or n_videos == 1):
                length = min(rng.uniform(1.0, 2.0), 0.35 * seconds)
                start = rng.uniform(0.2 * seconds, 0.8 * seconds - length)
                cp.no_face = ("occlusion" if i % 4 == 3 else "exit", start, start + length)
            vp.clips.append(cp)
        videos.append(vp)
    return videos
