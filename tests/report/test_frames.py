"""Grid predictions onto video frames: exactly one clipped row per frame, bad input refused."""
import numpy as np
import pytest

from affect.report.frames import PredictionError, check_grid_predictions, frame_table, to_video_frames
from affect.timegrid import Grid


@pytest.mark.parametrize("fps,frames,hop", [(25, 100, 0.25), (30, 61, 0.25), (15, 7, 0.25), (25, 40, 0.04)])
def test_one_row_per_frame_also_past_the_grid(fps, frames, hop):
    grid = Grid(hop)
    steps = grid.num_steps((frames - 3) / fps)  # labels 3 lines longer than the video: frames past the grid
    values = np.stack([np.linspace(-0.5, 0.5, steps), np.linspace(0.2, -0.2, steps)], 1)
    out = to_video_frames("c", values, grid, frames, fps)
    assert out.shape == (frames, 2) and out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out[-1], values[-1], atol=1e-6)  # edge value held


def test_frame_rate_grid_is_copied_and_values_clipped():
    values = np.array([[0.1, 2.0], [-3.0, 0.5], [0.3, -0.4]], np.float32)
    out = to_video_frames("c", values, Grid.for_video(25), 3, 25)
    np.testing.assert_array_equal(out, np.clip(values, -1, 1))


def test_nan_and_bad_shapes_are_refused_with_the_clip_named():
    values = np.zeros((10, 2), np.float32)
    values[4] = np.nan
    with pytest.raises(PredictionError, match="clip 'x': NaN/inf predictions on 1 of 10 grid steps .first at step 4"):
        to_video_frames("x", values, Grid(0.25), 50, 25)
    with pytest.raises(PredictionError, match=r"shape \(10, 3\)"):
        check_grid_predictions("x", np.zeros((10, 3)))
    with pytest.raises(PredictionError, match="9 predicted steps but the aligned grid has 10"):
        check_grid_predictions("x", np.zeros((9, 2)), steps=10)


def test_frame_table_numbers_frames_from_one():
    table = frame_table(np.zeros((3, 2)), fps=10)
    assert list(table.columns) == ["frame", "time_s", "valence", "arousal"]
    assert table["frame"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(table["time_s"], [0.05, 0.15, 0.25])
