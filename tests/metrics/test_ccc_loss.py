"""The torch CCC and the CCC loss (affect.metrics.loss) against the numpy metric."""

import numpy as np
import pytest
import torch

from affect.metrics import ccc
from affect.metrics.loss import ccc_loss, ccc_torch


def _batch(seed, b=4, t=30, d=2, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(b, t, d, generator=g, dtype=dtype) * 2 - 1
    pred = 0.6 * target + 0.3 * torch.randn(b, t, d, generator=g, dtype=dtype)
    return pred, target


def _np_pooled(pred, target, mask=None):
    p, y = pred.detach().numpy().copy(), target.detach().numpy().copy()
    if mask is not None:
        y[~mask.numpy()] = np.nan
    return np.array([ccc(p[..., k].ravel(), y[..., k].ravel()) for k in range(p.shape[-1])])


def _np_sequence(pred, target, mask=None):
    p, y = pred.detach().numpy().copy(), target.detach().numpy().copy()
    if mask is not None:
        y[~mask.numpy()] = np.nan
    out = []
    for k in range(p.shape[-1]):
        vals = [ccc(p[i, :, k], y[i, :, k]) for i in range(p.shape[0])
                if (~np.isnan(y[i, :, k])).sum() >= 2]
        out.append(np.mean(vals))
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ccc_torch_matches_numpy(seed):
    pred, target = _batch(seed)
    got = ccc_torch(pred, target, dim=(0, 1))
    np.testing.assert_allclose(got.numpy(), _np_pooled(pred, target), atol=1e-12)
    assert ccc_torch(torch.tensor([0.0, 1, 2, 3]), torch.tensor([1.0, 2, 3, 4])).item() == pytest.approx(5 / 7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pooled_loss_is_one_minus_numpy_ccc(seed):
    pred, target = _batch(seed)
    loss, per_dim = ccc_loss(pred, target, mode="pooled", eps=0.0)
    ref = _np_pooled(pred, target)
    np.testing.assert_allclose(per_dim.detach().numpy(), ref, atol=1e-12)
    assert loss.item() == pytest.approx(1 - ref.mean(), abs=1e-12)
    loss_eps, _ = ccc_loss(pred, target)  # default eps is negligible
    assert loss_eps.item() == pytest.approx(1 - ref.mean(), abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_sequence_loss_is_mean_of_per_sequence_ccc(seed):
    pred, target = _batch(seed)
    loss, per_dim = ccc_loss(pred, target, mode="sequence", eps=0.0)
    ref = _np_sequence(pred, target)
    np.testing.assert_allclose(per_dim.detach().numpy(), ref, atol=1e-12)
    assert loss.item() == pytest.approx(1 - ref.mean(), abs=1e-12)


def test_float32_matches_numpy():
    pred, target = _batch(3, b=8, t=200, dtype=torch.float32)
    loss, per_dim = ccc_loss(pred, target)
    np.testing.assert_allclose(per_dim.detach().numpy(), _np_pooled(pred, target), atol=1e-5)
    assert loss.dtype == torch.float32


def _masked_batch(seed):
    pred, target = _batch(seed, b=5, t=12)
    mask = torch.ones(5, 12, dtype=torch.bool)
    mask[1, 8:] = False
    mask[3] = False  # a fully masked row
    target[0, [2, 5], 0] = torch.nan  # NaN targets, one dimension only
    target[2, :, 1] = torch.nan  # a row whose arousal is entirely NaN
    target[4, 1:, :] = torch.nan  # a row with a single valid frame
    return pred, target, mask


@pytest.mark.parametrize("mode", ["pooled", "sequence"])
def test_nan_and_masked_frames_are_excluded(mode):
    pred, target, mask = _masked_batch(0)
    pred = pred.clone().requires_grad_(True)
    loss, per_dim = ccc_loss(pred, target, mask, mode=mode, eps=0.0)
    ref = (_np_pooled if mode == "pooled" else _np_sequence)(pred, target, mask)
    np.testing.assert_allclose(per_dim.detach().numpy(), ref, atol=1e-12)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    assert (pred.grad[3] == 0).all()  # fully masked row gets no gradient
    assert (pred.grad[0, [2, 5], 0] == 0).all()


def test_garbage_in_masked_predictions_does_not_leak():
    pred, target, mask = _masked_batch(1)
    pred = pred.clone()
    pred[3] = torch.nan  # e.g. padding positions
    pred.requires_grad_(True)
    loss, _ = ccc_loss(pred, target, mask)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()


@pytest.mark.parametrize("mode", ["pooled", "sequence"])
def test_gradcheck(mode):
    pred, target, mask = _masked_batch(2)
    pred = pred[:, :6].clone().requires_grad_(True)
    target, mask = target[:, :6], mask[:, :6]
    assert torch.autograd.gradcheck(
        lambda p: ccc_loss(p, target, mask, mode=mode)[0], (pred,), eps=1e-6, atol=1e-6
    )


def test_every_frame_counts():
    pred, target = _batch(4)
    base, _ = ccc_loss(pred, target, mode="sequence")
    for t in (0, 1, 15):
        changed = pred.clone()
        changed[0, t, 0] += 0.5
        assert ccc_loss(changed, target, mode="sequence")[0].item() != pytest.approx(base.item(), abs=1e-9)
        assert ccc_loss(changed, target, mode="pooled")[0].item() != pytest.approx(
            ccc_loss(pred, target, mode="pooled")[0].item(), abs=1e-9)
    pred = pred.clone().requires_grad_(True)
    ccc_loss(pred, target)[0].backward()
    assert (pred.grad != 0).all()


def test_nothing_valid_gives_zero_loss_and_zero_grad():
    pred, target = _batch(5, b=2, t=4)
    pred.requires_grad_(True)
    loss, per_dim = ccc_loss(pred, target, torch.zeros(2, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.isnan(per_dim).all()
    assert (pred.grad == 0).all()


def test_undefined_ccc_torch_is_nan_like_numpy():
    x = torch.full((6,), 0.1, dtype=torch.float64)
    assert torch.isnan(ccc_torch(x, x.clone()))
    assert torch.isnan(ccc_torch(torch.tensor([0.3]), torch.tensor([0.2])))
    y = torch.tensor([0.1, 0.5, -0.3, 0.9, 0.0, 0.2], dtype=torch.float64)
    assert ccc_torch(x, y).item() == 0.0  # constant prediction: defined, zero


def test_bad_arguments():
    pred, target = _batch(0)
    with pytest.raises(ValueError):
        ccc_loss(pred, target[:, :-1])
    with pytest.raises(ValueError):
        ccc_loss(pred, target, torch.ones(4, 29, dtype=torch.bool))
    with pytest.raises(ValueError, match="mode"):
        ccc_loss(pred, target, mode="last")
