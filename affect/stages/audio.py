"""Stage 03 `audio`: each video's audio as an enhanced 16 kHz mono waveform with a speech-activity mask.

`audio.denoise` picks the enhancement backend (`affect.audio.denoise`; measured in docs/audio.md);
`audio.keep_raw` keeps the waveform before enhancement too, for stage 04 to encode both.

Per video `videos/<video>/` (wave.npy, activity.npz, audio.json), made once even when two
clips (`_left`/`_right`) share the video; per clip `clips/<clip>/audio.json` names the video.
Layout and readers: `affect.audio.store` (`load_speech_mask`, `load_wave`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affect.audio.store import INFO, video_dir
from affect.cache import atomic
from affect.data.manifest import frame_times_path, resolve
from affect.stages.base import ClipError
from affect.stages.clip_stage import ClipStage

log = logging.getLogger(__name__)


class AudioStage(ClipStage):
    name = "audio"
    number = 3
    version = 4  # 2: audio on the clip clock (time 0 = first video frame), not the container's
    # 3: enhancement backends (rnnoise, deepfilternet), input checks (DC removed), audio.keep_raw
    # 4: of several audio streams the one flagged default (was: the first), named in audio.json

    def variant(self) -> str:
        return f"{self.cfg.audio.denoise}-{self.cfg.audio.vad}" + ("-raw" if self.cfg.audio.keep_raw else "")

    def setup(self) -> None:
        from affect.audio.denoise import check_backend

        check_backend(self.cfg.audio.denoise)  # an unknown name or a missing package fails here, before any clip
        if self.cfg.audio.vad not in ("silero", "energy"):
            raise ValueError(f"audio.vad must be 'silero' or 'energy', got {self.cfg.audio.vad!r}")
        if self.cfg.audio.sample_rate != 16000:
            raise ValueError(f"audio.sample_rate must be 16000 (the speech encoders' rate), got "
                             f"{self.cfg.audio.sample_rate}")

    def reuse_shared(self, donor: Path, clip: pd.Series) -> None:
        """A reused clip's audio lives in its video's folder: linked too, unless this folder has it."""
        from affect.cache.reuse import link_tree

        video = str(clip["video"])
        mine = video_dir(self.output.path, video)
        if not mine.is_dir():
            with atomic.atomic_dir(mine) as tmp:
                link_tree(video_dir(donor, video), tmp)

    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        from affect.audio.extract import AudioError
        from affect.audio.track import make_track

        video = str(clip["video"])
        folder = video_dir(self.output.path, video)
        if folder.is_dir():
            log.info("%s: audio of video %s already extracted (shared with another clip)", clip["clip"], video)
            record = json.loads((folder / INFO).read_text())
        else:
            path = resolve(self.cfg.corpus.root, clip["video_path"])
            fps, frames = float(clip["fps"]), int(clip["video_frames"] or clip["frames"])
            duration = frames / fps if fps > 0 else float(clip["duration"])
            if clip.get("frame_clock") == "variable":  # the real time from the first frame to the end of the last
                starts = np.load(frame_times_path(self.upstream_output("prepare").path, str(clip["clip"])))
                duration = float(starts[-1]) + (float(starts[-1] - starts[-2]) if len(starts) > 1 else 1 / fps)
            try:
                with atomic.atomic_dir(folder) as tmp:
                    record = make_track(path, duration, self.cfg.audio, tmp)
            except AudioError as e:
                raise ClipError(e.path, e.reason) from None
        atomic.write_json(out / INFO, {"video": video, "status": record["status"]})
        return {"video": video, "status": record["status"], "speech_s": record["speech_s"],
                "duration": record["duration"], "vad": record["vad"], "problems": "; ".join(record["problems"])}

