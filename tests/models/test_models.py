"""Regressor shapes, masks and front ends."""
import pytest
import torch

from affect.models import build_model

DIMS = {"face": 5, "voice": 3}


def _batch(b=2, w=12, k=4, voice_missing=True):
    g = torch.Generator().manual_seed(0)
    batch = {"x": {f: torch.randn(b, w, d, generator=g) for f, d in DIMS.items()},
             "m": {f: torch.ones(b, w, dtype=torch.bool) for f in DIMS},
             "sub": {"voice": torch.randn(b, w * k, 3, generator=g)},
             "sub_m": {"voice": torch.ones(b, w * k, dtype=torch.bool)},
             "pad": torch.ones(b, w, dtype=torch.bool)}
    if voice_missing:
        batch["m"]["voice"][0] = False  # a window without audio
    batch["pad"][1, 9:] = False
    return batch


def _spec(kind, **extra):
    return {"kind": kind, "features": list(DIMS), "dims": DIMS, "hidden": 8, "layers": 2, "dropout": 0.0,
            "heads": 2, "window": 12, "substeps": {}, **extra}


@pytest.mark.parametrize("spec", [_spec("temporal", model="gru"), _spec("temporal", model="tcn"),
                                  _spec("temporal", model="transformer"), _spec("fusion", modality_dropout=0.5),
                                  _spec("fusion", substeps={"voice": 4})])
def test_outputs_are_bounded_and_finite_with_missing_modalities(spec):
    torch.manual_seed(0)
    model = build_model(spec)
    for train in (True, False):
        model.train(train)
        out = model(_batch())
        assert out.shape == (2, 12, 2) and torch.isfinite(out).all() and out.abs().max() <= 1


def test_fusion_ignores_masked_frames_of_other_modalities():
    torch.manual_seed(0)
    model = build_model(_spec("fusion")).eval()
    a, b = _batch(), _batch()
    b["x"]["voice"][0] += 100.0  # voice is masked in window 0: its values must not matter
    assert torch.allclose(model(a)[0], model(b)[0])
    b["x"]["voice"][1] += 1.0
    assert not torch.allclose(model(a)[1], model(b)[1])


def test_conv_front_end_reads_sub_steps():
    model = build_model(_spec("temporal", model="gru", substeps={"voice": 4})).eval()
    a, b = _batch(voice_missing=False), _batch(voice_missing=False)
    b["sub"]["voice"][:, :4] += 1.0  # only the first grid step's sub-steps
    diff = (model(a) - model(b)).abs().sum(-1)
    assert diff[:, 0].min() > 0


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="unknown model 'lstm'; models: gru, tcn, transformer"):
        build_model(_spec("temporal", model="lstm"))
