"""The table `affect run` prints after stage 09, and the synthetic corpus's ceiling row."""
import numpy as np
import pandas as pd

from affect.report.reference import CEILING, latent_predictions
from affect.report.summary import score_summary


def test_summary_puts_the_ceiling_first_then_models_by_raw_p_va(tmp_path):
    rows = []
    for model, raw, smoothed in (("fusion", 0.6, 0.65), ("unimodal/a", 0.7, 0.71), (CEILING, 0.8, None)):
        rows.append({"model": model, "predictions": "raw", "split": "validation", "ccc_valence": raw,
                     "ccc_arousal": raw, "p_va": raw, "clips": 2})
        if smoothed is not None:
            rows.append({"model": model, "predictions": "smoothed", "split": "validation", "ccc_valence": smoothed,
                         "ccc_arousal": smoothed, "p_va": smoothed, "clips": 2})
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    lines = score_summary(tmp_path, "validation").splitlines()
    body = [ln for ln in lines if ln.startswith((CEILING, "fusion", "unimodal"))]
    assert [ln.split("  ")[0].strip() for ln in body] == [CEILING, "unimodal/a", "fusion"]
    assert body[1].split()[5:8] == ["0.875", "2", "-"] and body[2].split()[5:8] == ["0.750", "2", "-"]  # share, clips
    assert "0.650" in body[2]  # the smoothed figure beside the raw one
    assert "upper bound" not in "\n".join(lines) and "reference" in lines[-2]
    assert lines[-1] == f"report: {tmp_path / 'report.md'}"


def test_summary_names_clips_frames_and_where_choices_were_made(tmp_path):
    rows = [{"model": m, "predictions": "raw", "split": "validation", "ccc_valence": v, "ccc_arousal": v, "p_va": v,
             "clips": n, "valid_frames": 10 * n, "selected_on": sel, "same_clips": n == 3, "in_sample": False}
            for m, v, n, sel in (("fusion", 0.6, 3, "dev"), ("unimodal/a@fold0", 0.7, 1, "dev"),
                                 ("baseline/early", 0.5, 3, "validation"))]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    body = {ln.split()[0]: ln for ln in score_summary(tmp_path, "validation").splitlines()[2:-1]}
    assert body["fusion"].split()[-2:] == ["3", "30"]  # clips, valid frames; nothing to note
    assert body["unimodal/a@fold0"].endswith("1      10  other clips")
    assert body["baseline/early"].endswith("30  selected on validation")


def test_latent_reference_holds_the_last_value_past_the_video(tmp_path):
    (tmp_path / "latent").mkdir()
    (tmp_path / "latent" / "c.csv").write_text("valence,arousal\n0.1,0.2\n0.3,0.4\n")
    got = latent_predictions(tmp_path, {"c": np.zeros((3, 2), np.float32)})
    np.testing.assert_allclose(got["c"], [[0.1, 0.2], [0.3, 0.4], [0.3, 0.4]], rtol=1e-6)
    assert latent_predictions(tmp_path, {"other": np.zeros((2, 2))}) is None  # no latent for it: no ceiling row
    assert latent_predictions(tmp_path / "real-corpus", {"c": np.zeros((2, 2))}) is None
