"""`import affect.metrics` must not pay for torch; the loss stays reachable."""
import subprocess
import sys


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_metrics_import_does_not_import_torch():
    code = ("import sys, affect.metrics as m; "
            "m.evaluate; m.ccc; print('torch' in sys.modules)")
    assert run(code) == "False"


def test_loss_still_importable_directly_and_lazily():
    code = ("import sys, affect.metrics as m; from affect.metrics.loss import ccc_loss; "
            "print(m.ccc_loss is ccc_loss, 'torch' in sys.modules)")
    assert run(code) == "True True"
