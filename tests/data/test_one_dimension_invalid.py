"""A frame invalid in one dimension only (valence -5, arousal valid) keeps its other dimension:
in the label file, on the grid, in the loss and in the challenge metric."""
import numpy as np
import pytest

from affect.data.labels import read_va_file
from affect.metrics.ccc import ccc, evaluate
from affect.timegrid import Grid
from affect.train.gridding import align_labels

FPS = 10.0


@pytest.fixture
def labels(tmp_path, make_labels):
    rng = np.random.default_rng(0)
    values = rng.uniform(-0.9, 0.9, (40, 2)).round(3)
    values[5:15, 0] = -5  # valence invalid on frames 5..14, arousal valid there
    values[30, 1] = -5  # one frame with arousal invalid, valence valid
    return read_va_file(make_labels(tmp_path / "a.txt", values)), values


def test_label_file_keeps_the_valid_dimension(labels):
    y, written = labels
    assert np.isnan(y[5:15, 0]).all() and np.allclose(y[5:15, 1], written[5:15, 1])
    assert np.isnan(y[30, 1]) and y[30, 0] == pytest.approx(written[30, 0])
    assert np.isfinite(y).sum() == 80 - 11


def test_alignment_keeps_the_valid_dimension(labels):
    y, _ = labels
    same = align_labels(y, FPS, Grid.for_video(FPS), 40)  # frame grid: identity, per dimension
    np.testing.assert_array_equal(np.isnan(same), np.isnan(y))
    np.testing.assert_allclose(same[~np.isnan(y)], y[~np.isnan(y)], atol=1e-6)
    coarse = align_labels(y, FPS, Grid(0.5), 8)  # 5 frames per step
    assert np.isnan(coarse[1:3, 0]).all() and not np.isnan(coarse[:, 1]).any()  # steps 1, 2 hold frames 5..14
    np.testing.assert_allclose(coarse[1:3, 1], y[5:15, 1].reshape(2, 5).mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(coarse[6, 1], np.nanmean(y[30:35, 1]), atol=1e-6)  # arousal of step 6 from 4 frames
    np.testing.assert_allclose(coarse[6, 0], y[30:35, 0].mean(), atol=1e-6)  # valence of step 6 from all 5


def test_loss_keeps_the_valid_dimension(labels):
    torch = pytest.importorskip("torch")
    from affect.train.loss import train_loss

    y, _ = labels
    pred = torch.tensor(np.random.default_rng(1).uniform(-1, 1, y.shape), dtype=torch.float32, requires_grad=True)
    target = torch.tensor(y)[None]
    loss, per_dim = train_loss(pred[None], target, torch.ones(1, len(y), dtype=torch.bool))
    p = pred.detach().numpy()
    valence_ok, arousal_ok = ~np.isnan(y[:, 0]), ~np.isnan(y[:, 1])
    assert per_dim[0].item() == pytest.approx(ccc(p[valence_ok, 0], y[valence_ok, 0]), abs=1e-4)
    assert per_dim[1].item() == pytest.approx(ccc(p[arousal_ok, 1], y[arousal_ok, 1]), abs=1e-4)
    loss.backward()
    grad = pred.grad.numpy()
    assert np.isfinite(grad).all()
    assert (grad[5:15, 1] != 0).all() and (grad[5:15, 0] == 0).all()  # the arousal of valence-invalid frames trains


def test_metric_keeps_the_valid_dimension(labels):
    y, _ = labels
    p = np.random.default_rng(2).uniform(-1, 1, y.shape).astype(np.float32)
    p2 = p.copy()
    p2[5:15, 0] = 0.99  # predictions on invalid valence frames do not count
    report = evaluate({"a": p, "b": p}, {"a": y, "b": y})
    assert evaluate({"a": p2, "b": p}, {"a": y, "b": y}).ccc_valence == pytest.approx(report.ccc_valence)
    both = np.concatenate([y, y]), np.concatenate([p, p])
    assert report.ccc_arousal == pytest.approx(ccc(both[1][:, 1][~np.isnan(both[0][:, 1])],
                                                   both[0][:, 1][~np.isnan(both[0][:, 1])]))
    assert report.ccc_valence == pytest.approx(ccc(both[1][:, 0][~np.isnan(both[0][:, 0])],
                                                   both[0][:, 0][~np.isnan(both[0][:, 0])]))
    p3 = p.copy()
    p3[5:15, 1] = 0.99  # but predictions of arousal on those frames do
    assert evaluate({"a": p3, "b": p}, {"a": y, "b": y}).ccc_arousal != pytest.approx(report.ccc_arousal)
