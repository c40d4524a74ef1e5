"""What the report says the numbers rest on (random weights, fused sets, counts per split), plots that
show raw and smoothed with CCC in each title and a colour bar, the frames CSV's presence columns."""
import json

import numpy as np
import pandas as pd

from affect.metrics.ccc import ccc
from affect.report import plots
from affect.report.frames import frame_table, speech_at_frames
from affect.report.markdown import build_report, context_section, split_counts
from affect.report.provenance import StageRecord, fused_sets, random_weight_backbones


def test_banner_fused_sets_and_counts_come_from_the_stage_folders(tmp_path):
    visual, speech, fusion = (tmp_path / n for n in ("visual", "speech", "fusion"))
    for d in (visual, speech, fusion):
        d.mkdir()
    (visual / "backbones.json").write_text(json.dumps({"resnet10t": {"weights": "random"},
                                                       "landmarks68": {"weights": "dlib shape_predictor_68"}}))
    (speech / "backbones.json").write_text(json.dumps({"wavlm-d32-random": {"weights": "random (seed 0)"}}))
    (fusion / "_done.json").write_text(json.dumps({"fingerprint": "f", "features": ["landmarks68", "egemaps"]}))
    recs = [StageRecord("visual", 2, visual, "", ""), StageRecord("speech", 4, speech, "", ""),
            StageRecord("fusion", 7, fusion, "", "")]
    assert random_weight_backbones(recs) == ["resnet10t", "wavlm-d32-random"]
    assert fused_sets(recs) == ["landmarks68", "egemaps"]
    manifest = pd.DataFrame({"clip": ["a", "b", "c", "d"], "video": ["v", "v", "w", "x"],
                             "split": ["test", "train", "train", "validation"], "frames": [10, 20, 30, 40]})
    counts = split_counts(manifest)
    assert counts.to_dict("records") == [{"split": "train", "clips": 2, "frames": 50, "videos": 2},
                                         {"split": "validation", "clips": 1, "frames": 40, "videos": 1},
                                         {"split": "test", "clips": 1, "frames": 10, "videos": 1}]
    text = context_section(random_weight_backbones(recs), fused_sets(recs), counts)
    report = build_report(pd.DataFrame(columns=["split", "model", "predictions", "p_va", "ccc_valence",
                                                "ccc_arousal", "clips", "valid_frames", "unscored"]),
                          pd.DataFrame(), pd.DataFrame(), "(none)", pd.DataFrame(), [], [], tmp_path, context=text)
    head = report.split("## Scores")[0]
    assert "**Random weights.** `resnet10t`, `wavlm-d32-random`" in head and "landmarks68`, `egemaps`" in head
    assert "| train | 2 | 50 | 2 |" in head
    assert "Random weights" not in context_section([], [], counts)


def test_series_panels_show_raw_and_smoothed_with_ccc_and_density_has_a_colour_bar(tmp_path, monkeypatch):
    figures = []
    real_save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig) or real_save(fig, path))
    rng = np.random.default_rng(1)
    label = rng.uniform(-1, 1, (60, 2)).astype(np.float32)
    raw = label * 0.5 + rng.normal(0, 0.2, label.shape).astype(np.float32)
    smoothed = label * 0.5
    plots.plot_series(tmp_path / "s.png", [plots.ClipCurves("a", 25.0, label, raw, smoothed)], "m")
    axes = figures[0].axes
    assert axes[0].get_title() == f"a: valence, CCC {ccc(raw[:, 0], label[:, 0]):.2f} " \
                                  f"(smoothed {ccc(smoothed[:, 0], label[:, 0]):.2f})"
    assert {line.get_label() for line in axes[1].get_lines()} == {"label", "smoothed", "raw prediction"}
    plots.plot_density(tmp_path / "d.png", raw, label, "m")
    assert len(figures[1].axes) == 4  # two panels, a colour bar each
    assert "log(1 + frames" in figures[1].axes[2].get_ylabel()


def test_frames_table_presence_columns():
    table = frame_table(np.zeros((4, 2)), fps=2.0, presence={"face": np.array([1, 0, 1, 1]),
                                                              "speech": np.array([0, 0, 1, 1], bool)})
    assert list(table.columns) == ["frame", "time_s", "valence", "arousal", "face", "speech"]
    assert list(table["frame"]) == [1, 2, 3, 4] and list(table["time_s"]) == [0.25, 0.75, 1.25, 1.75]
    assert list(table["face"]) == [1, 0, 1, 1] and list(table["speech"]) == [0, 0, 1, 1]
    # speech windows of 0.5 s centred at 0.25, 0.75, ...; the last window has no real audio
    speech = speech_at_frames(np.array([[0], [1], [1]]), np.array([0.25, 0.75, 1.25]), np.array([1, 1, 0], bool),
                              frames=8, fps=4.0)  # frame centres 0.125 ... 1.875
    assert speech.tolist() == [False, False, True, True, False, False, False, False]
