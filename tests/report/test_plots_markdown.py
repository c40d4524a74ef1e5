"""Plots are written as non-empty PNGs; the report's tables and provenance."""
import json

import numpy as np
import pandas as pd
import pytest

from affect.report.markdown import table
from affect.report.plots import ClipCurves, plot_density, plot_series
from affect.report.provenance import stage_record

PNG = b"\x89PNG\r\n\x1a\n"


def test_series_and_density_plots_are_non_empty_pngs(tmp_path):
    rng = np.random.default_rng(0)
    label = rng.uniform(-1, 1, (80, 2)).astype(np.float32)
    label[10:20] = np.nan
    curves = [ClipCurves("a", 25.0, label, label * 0.5, label * 0.4), ClipCurves("b", 30.0, label, label * 0.3)]
    for path in (plot_series(tmp_path / "p" / "s.png", curves, "m"), plot_density(tmp_path / "d.png", label * 0.5, label, "m")):
        assert path.stat().st_size > 5000 and path.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="no clips"):
        plot_series(tmp_path / "x.png", [], "m")


def test_markdown_table_formats_and_truncates():
    frame = pd.DataFrame({"model": ["a|b", "c"], "p_va": [0.123456, float("nan")], "clips": [3, 0]})
    assert table(frame).splitlines() == ["| model | p_va | clips |", "|---|---|---|",
                                         "| a\\|b | 0.1235 | 3 |", "| c | – | 0 |"]
    assert "(1 more rows" in table(frame, max_rows=1) and table(frame.iloc[:0]) == "(none)"


def test_stage_record_reads_marker_and_config_sections(tmp_path):
    (tmp_path / "_done.json").write_text(json.dumps({"fingerprint": "abc123"}))
    (tmp_path / "config.yaml").write_text("corpus:\n  root: x\nprepare:\n  folds: 2\nfaces:\n  size: 3\n")
    record = stage_record("prepare", 0, tmp_path)
    assert record.fingerprint == "abc123"
    assert "folds: 2" in record.config_yaml and "root: x" in record.config_yaml and "size" not in record.config_yaml
    assert stage_record("faces", 1, tmp_path / "nope").fingerprint == ""


def test_score_table_puts_raw_and_smoothed_side_by_side():
    from affect.report.markdown import score_table

    rows = [{"model": m, "predictions": p, "split": "validation", "p_va": v, "ccc_valence": v, "ccc_arousal": v,
             "clips": 2, "valid_frames": 10, "unscored": 0}
            for m, p, v in [("a", "raw", 0.1), ("a", "smoothed", 0.2), ("b", "raw", 0.3), ("b", "smoothed", 0.25)]]
    table = score_table(pd.DataFrame(rows))
    assert table["model"].tolist() == ["b", "a"]
    assert table[["P_VA raw", "P_VA smoothed"]].to_numpy().tolist() == [[0.3, 0.25], [0.1, 0.2]]
