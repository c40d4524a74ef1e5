"""Stages 08/09 and their components import neither torch nor matplotlib until they work."""
import subprocess
import sys


def test_stage_modules_are_light():
    code = ("import sys, affect.stages.predict, affect.stages.evaluate, affect.report.plots; "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "[]"
