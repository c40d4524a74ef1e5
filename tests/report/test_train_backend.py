"""Stage 08's backend against the real affect.train API: a tiny stage-05 folder, a 1-epoch run."""
import json

import numpy as np
import pytest

from affect.report.backend import TrainBackend
from affect.report.frames import to_video_frames

train = pytest.importorskip("affect.train.trainer")
aligned = pytest.importorskip("affect.train.aligned")


def make_align(root, steps=40, hop=0.25, fps=25.0):
    rng = np.random.default_rng(0)
    for i, split in enumerate(["train", "train", "validation", "test"]):
        clip = f"c{i}"
        d = root / "clips" / clip
        d.mkdir(parents=True)
        va = np.tanh(np.cumsum(rng.normal(0, 0.2, (steps, 2)), 0)).astype(np.float32)
        labels = np.full_like(va, np.nan) if split == "test" else va
        values = (va @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(steps, 4))).astype(np.float32)
        mask = np.ones(steps, bool)
        mask[10:15] = False  # no face there: still predicted
        info = {"hop": hop, "steps": steps, "fps": fps, "frames": int(steps * hop * fps), "video": f"v{i}",
                "split": split, "fold": None if split == "test" else i % 2, "has_audio": False}
        aligned.write_clip(d, info, labels, {"face": aligned.AlignedFeature(values=values, mask=mask)})
    (root / aligned.FEATURES_JSON).write_text(json.dumps({"face": {"modality": "visual", "dim": 4, "substeps": 0,
                                                                   "source": "test"}}))
    return root


def test_runs_listed_predicted_and_mapped_to_every_frame(tmp_path):
    from affect.train.config import TrainConfig

    align = make_align(tmp_path / "align")
    cfg = TrainConfig(window=16, stride=8, batch_size=4, epochs=1, hidden=8, layers=1, warmup=1)
    stage_dir = tmp_path / "unimodal"
    spec = train.model_spec("temporal", ["face"], align, cfg, model="gru")
    train.fit(stage_dir / "runs" / "unimodal" / "face", align, spec, cfg, name="unimodal/face")
    backend = TrainBackend()
    runs = backend.list_runs(stage_dir)
    assert list(runs) == ["unimodal/face"]
    assert backend.train_clips(runs["unimodal/face"]) == {"c0", "c1"}  # what stage 08's out-of-fold rule reads
    assert backend.train_clips(tmp_path / "not-a-run") == set()
    clips = ["c2", "c3"]
    preds = backend.predict_grid(runs["unimodal/face"], align, clips, "cpu")
    for clip in clips:
        grid, steps = backend.grid(align, clip)
        assert grid.hop == 0.25 and steps == 40 and preds[clip].shape == (40, 2)
        frames = to_video_frames(clip, preds[clip], grid, 252, 25.0)  # 2 label lines past the grid's end
        assert frames.shape == (252, 2) and np.isfinite(frames).all()

    (runs["unimodal/face"] / "best.pt").unlink()  # a run folder without its checkpoint
    with pytest.raises(FileNotFoundError, match="best.pt"):
        backend.predict_grid(runs["unimodal/face"], align, clips, "cpu")
