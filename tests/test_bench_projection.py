"""benchmarks/projection.py: Aff-Wild2 device-hours from measured throughputs (pure arithmetic)."""
import importlib.util
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "projection.py"
spec = importlib.util.spec_from_file_location("bench_projection", PATH)
projection = importlib.util.module_from_spec(spec)
spec.loader.exec_module(projection)


def test_hours_per_stage():
    rows = projection.project([
        {"stage": "faces", "frames_per_s": 1000.0},
        {"stage": "visual", "backbone": "resnet50", "crops_per_s": 2000.0},
        {"stage": "speech", "backbone": "wavlm-large", "rtf": 0.01},
        {"stage": "train", "windows_per_s": 130.0},
    ])
    hours = {(r["stage"], r["what"].split(":")[0]): r["hours"] for r in rows}
    assert hours[("faces", "2.8 M frames")] == pytest.approx(2_800_000 / 1000 / 3600)
    assert hours[("visual resnet50", "sample=grid")] == pytest.approx(374_000 / 2000 / 3600)
    assert hours[("visual resnet50", "sample=all")] == pytest.approx(2_800_000 / 2000 / 3600)
    assert hours[("speech wavlm-large", "26 h of audio")] == pytest.approx(0.26)
    # one epoch: 26 h of video in 8 s strides = 11,700 windows
    assert projection.EPOCH_WINDOWS == 11_700
    train = next(r for r in rows if r["stage"] == "train fusion")
    assert train["hours"] == pytest.approx(11_700 / 130 / 3600)
    assert "epochs/h" in train["throughput"]
    text = projection.table(rows, "NVIDIA H200")
    assert text.count("\n") == len(rows) + 1 and "NVIDIA H200" in text


def test_unknown_stage():
    with pytest.raises(ValueError, match="unknown stage"):
        projection.project([{"stage": "bogus"}])
