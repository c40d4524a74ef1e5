import pandas as pd

from affect.data.folds import assign_folds


def test_folds_keep_videos_together_and_are_seeded():
    videos = pd.Series([f"v{i // 2}" if i < 8 else f"w{i}" for i in range(20)])
    frames = pd.Series(range(100, 120))
    folds = assign_folds(videos, frames, k=4, seed=1)
    assert folds.groupby(videos).nunique().max() == 1  # a video never spans two folds
    assert set(folds) == {0, 1, 2, 3}
    assert folds.equals(assign_folds(videos, frames, k=4, seed=1))
    assert not folds.equals(assign_folds(videos, frames, k=4, seed=2))
    load = frames.groupby(folds).sum()
    assert load.max() - load.min() <= frames.max() * 2  # balanced by frames
