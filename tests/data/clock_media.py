"""Videos made with FFmpeg (imageio-ffmpeg's binary) whose flashes and beeps share presentation times.

`make_flash_beep(path, video_offset=..., audio_offset=...)`: white frames (flashes) and 1 kHz
beeps at FLASHES seconds of presentation time, the video stream shifted by `video_offset`
and the audio stream by `audio_offset` on the container's clock (as a stream-copy cut leaves
them). On the clip's clock (time 0 = first frame) both happen at `FLASHES - 0`.
"""
from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

FPS = 25
RATE = 16000
SECONDS = 4.0
FLASHES = (1.0, 2.2, 3.04)  # clip-clock seconds of each flash, on frame boundaries at 25 fps
FLASH_FRAMES = 3
BEEP_S = 0.1


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(*args: str) -> None:
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", *args], check=True)


def make_flash_beep(path: Path, video_offset: float = 0.0, audio_offset: float = 0.0) -> Path:
    """The mp4 at `path`: video and audio streams starting at the given container times."""
    work = path.parent / f".{path.stem}"
    work.mkdir(parents=True, exist_ok=True)
    frames = [int(round(t * FPS)) for t in FLASHES]
    enable = "+".join(f"between(n,{f},{f + FLASH_FRAMES - 1})" for f in frames)
    _run("-f", "lavfi", "-i", f"color=c=black:s=32x32:r={FPS}:d={SECONDS}",
         "-vf", f"drawbox=x=0:y=0:w=32:h=32:color=white:t=fill:enable='{enable}'",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", str(work / "v.mp4"))
    # the audio stream's own time t plays at t + audio_offset; the frames' at t + video_offset:
    # a beep at clip time f sits at f + video_offset - audio_offset in the audio stream
    shift = video_offset - audio_offset
    write_beeps(work / "a.wav", SECONDS + shift + 0.5, [f + shift for f in FLASHES])
    _run("-i", str(work / "a.wav"), "-c:a", "aac", "-b:a", "64k", str(work / "a.m4a"))
    _run("-itsoffset", f"{video_offset}", "-i", str(work / "v.mp4"), "-itsoffset", f"{audio_offset}",
         "-i", str(work / "a.m4a"), "-map", "0:v", "-map", "1:a", "-c", "copy", str(path))
    return path


def write_beeps(path: Path, seconds: float, onsets) -> None:
    """A 16-bit mono WAV of `seconds` with a 1 kHz beep of BEEP_S starting at each of `onsets` (s)."""
    t = np.arange(int(seconds * RATE)) / RATE
    sound = np.zeros_like(t)
    for f in onsets:
        on = (t >= f) & (t < f + BEEP_S)
        sound[on] = 0.5 * np.sin(2 * np.pi * 1000 * t[on])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((sound * 32767).astype("<i2").tobytes())


def flash_frames(path: Path) -> list[int]:
    """First frame index of each flash, as a decoder yields the frames."""
    from affect.video.decode import VideoReader

    bright = np.concatenate([b.frames.reshape(len(b), -1).mean(axis=1) for b in VideoReader(path)]) > 128
    return [int(i) for i in np.flatnonzero(bright[1:] & ~bright[:-1]) + 1] + ([0] if bright[0] else [])


def beep_onsets(wave_: np.ndarray, rate: int) -> list[float]:
    """Seconds where a beep starts: 5 ms energy above a tenth of the peak after silence."""
    hop = rate // 200
    n = len(wave_) // hop
    energy = np.sqrt((wave_[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    loud = energy > 0.1 * energy.max()
    starts = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    # refine to the first loud sample inside the window before the rise
    out = []
    for s in starts:
        seg = np.abs(wave_[(s - 1) * hop:(s + 1) * hop])
        out.append(((s - 1) * hop + int(np.argmax(seg > 0.1 * np.abs(wave_).max()))) / rate)
    return out


VFR_FLASH_FRAMES = (25, 75)  # frames 0-49 at 25 fps, frames 50-99 at 12.5 fps: frame 25 at 1.0 s, 75 at 4.0 s
VFR_FLASH_TIMES = (1.0, 4.0)


def make_vfr_flash_beep(path: Path) -> Path:
    """A variable-frame-rate mp4: 50 frames at 25 fps then 50 at 12.5 fps (6 s, 100 frames, so an
    average 16.7 fps), flashes on frames VFR_FLASH_FRAMES and beeps at their presentation times."""
    work = path.parent / f".{path.stem}"
    work.mkdir(parents=True, exist_ok=True)
    enable = "+".join(f"between(n,{f},{f + FLASH_FRAMES - 1})" for f in VFR_FLASH_FRAMES)
    _run("-f", "lavfi", "-i", f"color=c=black:s=32x32:r={FPS}:d=4",
         "-vf", f"drawbox=x=0:y=0:w=32:h=32:color=white:t=fill:enable='{enable}',"
                "setpts='if(lt(N,50),N/25/TB,(2+(N-50)/12.5)/TB)'",
         "-fps_mode", "passthrough", "-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p", "-g", "10",
         str(work / "v.mp4"))
    write_beeps(work / "a.wav", 6.5, VFR_FLASH_TIMES)
    _run("-i", str(work / "v.mp4"), "-i", str(work / "a.wav"), "-map", "0:v", "-map", "1:a", "-c:v", "copy",
         "-c:a", "aac", "-b:a", "64k", str(path))
    return path
