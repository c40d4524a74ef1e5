"""The CCC training loss: fits a known trajectory; masked frames change neither loss nor gradient."""
import numpy as np
import pytest
import torch

from affect.metrics.loss import ccc_loss
from affect.train import loss as loss_mod
from affect.train.loss import train_loss


def test_ccc_loss_fits_a_known_trajectory():
    torch.manual_seed(0)
    t = torch.linspace(0, 6, 120)
    target = torch.stack([torch.sin(t), 0.5 * torch.cos(2 * t)], -1)[None]  # [1, T, 2]
    x = torch.stack([torch.sin(t + 0.3), torch.cos(t), torch.sin(2 * t), torch.cos(2 * t)], -1)[None]
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(300):
        loss, _ = train_loss(model(x), target, torch.ones(1, 120, dtype=torch.bool))
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, ccc = train_loss(model(x), target, torch.ones(1, 120, dtype=torch.bool))
    assert ccc.min() > 0.97


@pytest.mark.parametrize("mode", ["pooled", "sequence"])
def test_masked_frames_do_not_change_loss_or_gradient(mode):
    g = torch.Generator().manual_seed(1)
    pred = torch.rand(3, 20, 2, generator=g) * 2 - 1
    target = torch.rand(3, 20, 2, generator=g) * 2 - 1
    pad = torch.ones(3, 20, dtype=torch.bool)
    pad[1, 15:] = False  # padding: both dimensions masked
    target[0, 3:7, 1] = torch.nan  # arousal invalid, valence still valid
    target[2, 10:12, 0] = torch.nan  # valence invalid

    def run(p, t):
        p = p.clone().requires_grad_(True)
        loss, _ = train_loss(p, t, pad, mode)
        loss.backward()
        return loss.detach(), p.grad

    loss_a, grad_a = run(pred, target)
    masked = torch.isnan(target) | ~pad[..., None]
    pred_b = torch.where(masked, torch.full_like(pred, 0.77), pred)
    target_b = target.clone()
    target_b[1, 15:] = 5.0  # garbage under the padding
    loss_b, grad_b = run(pred_b, target_b)
    assert torch.equal(loss_a, loss_b)
    assert torch.allclose(grad_a, grad_b, atol=0, rtol=0)
    assert (grad_a[masked] == 0).all() and (grad_a[~masked] != 0).any()
    assert torch.isfinite(grad_a).all()
    # valence of the frames whose arousal is invalid still counts
    pred_c = pred.clone()
    pred_c[0, 3:7, 0] += 0.5
    assert not torch.equal(run(pred_c, target)[0], loss_a)


@pytest.mark.parametrize("mode", ["pooled", "sequence"])
def test_multi_process_formula_equals_one_process(monkeypatch, mode):
    """The sufficient-statistics loss used with N processes is the one-process loss (here with N = 1)."""
    monkeypatch.setattr(loss_mod, "_global", lambda local: local)
    g = torch.Generator().manual_seed(2)
    pred = (torch.rand(4, 16, 2, generator=g) * 2 - 1).requires_grad_(True)
    target = torch.rand(4, 16, 2, generator=g) * 2 - 1
    target[1, :5, 0] = torch.nan
    pad = torch.ones(4, 16, dtype=torch.bool)
    pad[3, 10:] = False
    a, ccc_a = ccc_loss(pred, target, pad, mode=mode)
    (ga,) = torch.autograd.grad(a, pred)
    b, ccc_b = train_loss(pred, target, pad, mode, world=2)
    (gb,) = torch.autograd.grad(b, pred)
    assert float(a.detach()) == pytest.approx(float(b.detach()), abs=1e-6)
    np.testing.assert_allclose(ccc_a.detach(), ccc_b.detach(), atol=1e-6)
    np.testing.assert_allclose(ga, gb, atol=1e-6)
