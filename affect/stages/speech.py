"""Stage 04 `speech`: speech-encoder features per clip, at each encoder's own frame rate.

Per clip `clips/<clip>/<backbone>.npz` (`affect.cache.series`: values [N, D] float16, times =
frame centres in seconds from the video's start, mask, rate) for every backbone of
`speech.backbones` (any registered `speech` backbone: WavLM, Whisper, openSMILE...), and
`backbones.json` ({name: describe()}). Input: stage 03's enhanced 16 kHz waveform, read
memory-mapped; with `audio.keep_raw` also its waveform before enhancement, whose features are
named `<backbone>.raw` (e.g. `wavlm-large.raw`; `"waveform": "raw"` in backbones.json), so
stage 06's unimodal ranking compares the two. A row is masked where stage 03 has no real audio
(no audio stream, past the end of a short track, NaN samples). `_left`/`_right` clips share their video's audio: features are
computed once per video and copied to the sibling clip.

Several processes can share the work like stage 02 (`speech.shard=k/n`, or torchrun's
RANK/WORLD_SIZE; `affect.stages.sharded.ShardedClipStage`: no process group, clips balanced by
length, the last process to finish marks the stage done), each on `cuda:LOCAL_RANK` under
torchrun. Sibling clips on different shards each compute their (identical) features.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from affect.cache import atomic
from affect.stages.base import ClipError
from affect.stages.sharded import ShardedClipStage

log = logging.getLogger(__name__)


class SpeechStage(ShardedClipStage):
    name = "speech"
    number = 4
    version = 2  # 2: with audio.keep_raw, each backbone also encodes the raw waveform (<backbone>.raw)
    requires = ("prepare", "audio")

    def feature_names(self) -> dict[str, tuple[str, bool]]:
        """Feature-set name -> (backbone, raw?): every backbone on the enhanced waveform, and with
        `audio.keep_raw` also on the waveform before enhancement, as `<backbone>.raw`."""
        from affect.audio.store import RAW_SUFFIX

        names = {name: (name, False) for name in self.cfg.speech.backbones}
        if self.cfg.audio.keep_raw:
            names.update({name + RAW_SUFFIX: (name, True) for name in self.cfg.speech.backbones})
        return names

    def variant(self) -> str:
        names = "+".join(self.cfg.speech.backbones)
        return names if len(names) <= 60 else f"{self.cfg.speech.backbones[0]}+{len(self.cfg.speech.backbones) - 1}"

    def shard_spec(self) -> str:
        return self.cfg.speech.shard

    # models ------------------------------------------------------------------------------
    def setup(self) -> None:
        from affect.backbones.registry import create_backbone, get_spec
        from affect.device import resolve_device

        if getattr(self, "backbones", None):
            return
        cfg = self.cfg.speech
        if not cfg.backbones:
            raise ValueError("speech.backbones is empty: name at least one registered speech backbone")
        device = resolve_device(self.cfg.device)  # under torchrun: cuda:LOCAL_RANK
        self.backbones = {}
        for name in cfg.backbones:
            spec = get_spec(name)
            if spec.modality != "speech":
                raise ValueError(f"speech.backbones: {name!r} is a {spec.modality} backbone")
            # batches help a GPU; on the CPU they only multiply the activations held at once
            batch = cfg.batch_size if device.type == "cuda" else 1
            kwargs: dict[str, Any] = {"batch_size": batch, "seed": self.cfg.seed, "amp": cfg.amp}
            if spec.family == "wavlm":
                kwargs.update(chunk_s=cfg.chunk_s, layer=cfg.layer)
            self.backbones[name] = create_backbone(name, weights=cfg.weights, **kwargs).to(device)
        atomic.write_json(self.output.path / "backbones.json",  # every shard writes the same record
                          {name: {**self.backbones[bb].describe(), **({"waveform": "raw"} if raw else {})}
                           for name, (bb, raw) in self.feature_names().items()})
        self._audio_dir = self.upstream_output("audio").path

    # one clip ----------------------------------------------------------------------------
    def process(self, clip: pd.Series, out: Path) -> dict[str, Any]:
        from affect.audio.store import clip_video, load_wave, video_dir

        audio_dir = self._audio_dir
        try:
            video = clip_video(audio_dir, clip["clip"])
        except FileNotFoundError as e:
            raise ClipError(audio_dir / "clips" / clip["clip"], f"no audio from stage 03 ({e})") from None
        sibling = self._sibling_done(clip["clip"], video)
        if sibling is not None:
            for name in self.feature_names():
                shutil.copyfile(sibling / f"{name}.npz", out / f"{name}.npz")
            log.info("%s: features copied from %s (same video %s)", clip["clip"], sibling.name, video)
            return {"video": video, "copied_from": sibling.name, **self._shapes(out)}
        from affect.audio.store import RAW_WAVE, WAVE

        valid = self._valid_windows(audio_dir, clip["clip"])
        for raw in sorted({raw for _, raw in self.feature_names().values()}):
            try:
                wave, info = load_wave(audio_dir, clip["clip"], raw=raw)
            except FileNotFoundError as e:
                raise ClipError(video_dir(audio_dir, video), str(e)) from None
            wave_file = video_dir(audio_dir, video) / (RAW_WAVE if raw else WAVE)
            for name, (bb, is_raw) in self.feature_names().items():
                if is_raw == raw:
                    self._encode_one(name, self.backbones[bb], wave, valid, out, wave_file)
        return {"video": video, "audio": info["status"], "copied_from": "", **self._shapes(out)}

    def _encode_one(self, name: str, bb: Any, wave: np.ndarray, valid: np.ndarray, out: Path, wave_file: Path) -> None:
        from affect.audio.vad import WINDOW
        from affect.cache.series import Series, save_series

        try:
            values, times = bb.encode(wave)
        except ValueError as e:
            raise ClipError(wave_file, f"{name}: {e}") from None
        if values.ndim != 2 or values.shape[1] != bb.dim or len(times) != len(values):
            raise RuntimeError(f"{name}: encode gave values {values.shape} and times {times.shape}, "
                               f"expected [N, {bb.dim}] and [N]")
        window = np.clip((np.asarray(times) * 16000 // WINDOW).astype(int), 0, max(len(valid) - 1, 0))
        mask = valid[window] if len(valid) else np.zeros(len(times), bool)
        save_series(out / f"{name}.npz", Series(values=values, times=times, mask=mask, rate=float(bb.rate)))

    @staticmethod
    def _valid_windows(audio_dir: Path, clip: str) -> np.ndarray:
        from affect.audio.store import load_speech_mask

        return load_speech_mask(audio_dir, clip).mask

    def _sibling_done(self, clip: str, video: str) -> Path | None:
        """A finished clip of the same video (its features are this clip's too)."""
        rows = self.manifest[(self.manifest["video"] == video) & (self.manifest["clip"] != clip)]
        for other in rows["clip"]:
            folder = self.output.clip_dir(other)
            if folder.is_dir() and all((folder / f"{n}.npz").is_file() for n in self.feature_names()):
                return folder
        return None

    def _shapes(self, out: Path) -> dict[str, Any]:
        shapes = {}
        for name in self.feature_names():
            with np.load(out / f"{name}.npz") as z:
                valid = z["mask"].mean() if z["mask"].size else 0.0
                shapes[name] = f"{z['values'].shape[0]}x{z['values'].shape[1]} ({valid:.0%} valid)"
        return shapes
