"""Which sets stage 07 fuses: a set strong on one dimension only is kept when ranking per dimension."""
import pandas as pd
import pytest

from affect.train.selection import choose_sets, dimension_ranks


def ranking() -> pd.DataFrame:
    # the shape seen on a generated corpus: random-weight networks middling on both dimensions,
    # landmarks strong on valence only, eGeMAPS strong on arousal only
    rows = [("clip-tiny", "visual", 0.55, 0.30), ("resnet50-tiny", "visual", 0.45, 0.35),
            ("senet-tiny", "visual", 0.40, 0.30), ("landmarks68", "visual", 0.59, -0.10),
            ("wavlm-tiny", "speech", 0.20, 0.50), ("whisper-tiny-random", "speech", 0.15, 0.45),
            ("egemaps", "speech", -0.07, 0.72)]
    table = pd.DataFrame(rows, columns=["feature", "modality", "ccc_valence", "ccc_arousal"])
    table["p_va"] = (table["ccc_valence"] + table["ccc_arousal"]) / 2
    return table.sort_values("p_va", ascending=False).reset_index(drop=True)


def test_per_dimension_keeps_a_set_strong_on_one_dimension_only():
    table = ranking()
    assert table["feature"].tolist()[-1] == "landmarks68"  # last by P_VA
    by_pva = choose_sets(table, 2, per_modality=True, per_dimension=False)
    assert "landmarks68" not in by_pva and sorted(by_pva) == ["clip-tiny", "egemaps", "resnet50-tiny", "wavlm-tiny"]
    chosen = choose_sets(table, 1, per_modality=True, per_dimension=True)
    # valence: landmarks68 (visual), wavlm-tiny (speech); arousal: resnet50-tiny (visual), egemaps (speech)
    assert sorted(chosen) == ["egemaps", "landmarks68", "resnet50-tiny", "wavlm-tiny"]
    assert chosen == [f for f in table["feature"] if f in chosen]  # in the ranking's (P_VA) order
    assert choose_sets(table, 1, per_modality=False, per_dimension=True) == ["egemaps", "landmarks68"]
    assert choose_sets(table, 1, per_modality=False, per_dimension=False) == ["clip-tiny"]


def test_nan_scores_rank_last_and_missing_columns_are_named():
    table = ranking()
    table.loc[table["feature"] == "landmarks68", "ccc_valence"] = float("nan")
    assert "landmarks68" not in choose_sets(table, 1, per_modality=False)
    with pytest.raises(ValueError, match="ccc_arousal"):
        choose_sets(table.drop(columns="ccc_arousal"), 2)


def test_dimension_ranks():
    rows = dimension_ranks(ranking().to_dict("records"))
    ranks = {r["feature"]: (r["rank_valence"], r["rank_arousal"]) for r in rows}
    assert ranks["landmarks68"] == (1, 7) and ranks["egemaps"] == (7, 1)
