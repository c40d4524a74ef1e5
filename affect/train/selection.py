"""Which feature sets stage 07 fuses, from stage 06's ranking (``ranking.csv``).

The ranking holds each set's CCC on valence and on arousal (and P_VA, their mean) on the
selection split. A set that carries one dimension strongly and the other not at all (lip
landmarks: valence only; eGeMAPS: arousal only) has a middling P_VA, so ranking by P_VA alone
leaves it out behind sets that are mediocre on both. ``per_dimension`` takes instead the top k
by valence CCC and the top k by arousal CCC (their union), each per modality or across them.
"""
from __future__ import annotations

import pandas as pd

DIMENSIONS = {"valence": "ccc_valence", "arousal": "ccc_arousal"}


def _top(ranking: pd.DataFrame, column: str, k: int, per_modality: bool) -> list[str]:
    ordered = ranking.sort_values(column, ascending=False, na_position="last", kind="stable")
    if per_modality:
        ordered = ordered.groupby("modality", sort=False).head(k)
    else:
        ordered = ordered.head(k)
    return ordered["feature"].tolist()


def choose_sets(ranking: pd.DataFrame, k: int, per_modality: bool = True, per_dimension: bool = True) -> list[str]:
    """Feature sets to fuse, in the ranking's order (best P_VA first).

    ``ranking``: columns feature, modality, ccc_valence, ccc_arousal, p_va (stage 06's table).
    ``per_dimension``: the union of the top ``k`` by valence CCC and the top ``k`` by arousal CCC;
    else the top ``k`` by P_VA. ``per_modality``: the top ``k`` of each modality (else overall).
    """
    missing = {"feature", "modality", "p_va", *(DIMENSIONS.values() if per_dimension else ())} - set(ranking.columns)
    if missing:
        raise ValueError(f"the unimodal ranking lacks column(s) {sorted(missing)}")
    k = max(1, int(k))
    ranking = ranking.sort_values("p_va", ascending=False, na_position="last", kind="stable")
    columns = list(DIMENSIONS.values()) if per_dimension else ["p_va"]
    chosen = {f for column in columns for f in _top(ranking, column, k, per_modality)}
    return [f for f in ranking["feature"] if f in chosen]


def dimension_ranks(rows: list[dict]) -> list[dict]:
    """``rows`` (stage 06's, with ccc_valence/ccc_arousal) with rank_valence and rank_arousal (1 = best)."""
    table = pd.DataFrame(rows)
    for dim, column in DIMENSIONS.items():
        table[f"rank_{dim}"] = table[column].rank(ascending=False, method="first", na_option="bottom").astype(int)
    return table.to_dict("records")
