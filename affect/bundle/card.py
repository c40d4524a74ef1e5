"""The model card: the bundle's README.md, written from bundle.json's facts (nothing else)."""
from __future__ import annotations

from typing import Any


def _score(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, (int, float)) else "n/a"


def _pairs(section: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in section.items())


def model_card(info: dict[str, Any], members: dict[str, dict[str, Any]]) -> str:
    """Markdown: what the model is, what it was trained and selected on, how it scored, what it needs."""
    t = info["training"]
    feats = info["features"]
    random_sets = [n for n, r in feats.items() if r["random"]]
    lines = [f"# affect model: {info['model']}", ""]
    if random_sets:
        lines += [f"**Random weights**: the feature set(s) {', '.join(random_sets)} come from backbones with RANDOM "
                  "weights (weights=random), reproduced from the config's seed: a demonstration model, not a "
                  "pretrained one.", ""]
    lines += [
        f"- exported: {info['created']} with affect {info['affect_version']} (bundle version {info['version']})",
        f"- training corpus: `{t['corpus']}` (stage 00 fingerprint `{t['fingerprint'][:16]}`)",
        f"- splits (clips): {', '.join(f'{s} {n}' for s, n in t['splits'].items())}",
        f"- members: {len(members)} ({', '.join(members)})"
        + (", stacked per dimension with the weights in bundle.json (`stacks`)" if info.get("stacks")
           else ", averaged frame by frame"),
        "",
        "## Validation scores",
        "",
        "Global CCC over all valid frames of the validation clips (the challenge's metric).",
        "",
        "| what | clips | CCC valence | CCC arousal | P_VA |",
        "|---|---|---|---|---|",
    ]
    for row in t["validation"]:
        lines.append(f"| {row['what']} | {row.get('clips', 'n/a')} | {_score(row.get('ccc_valence'))} | "
                     f"{_score(row.get('ccc_arousal'))} | {_score(row.get('p_va'))} |")
    lines += ["", "## How it was selected", "", *[f"- {s}" for s in t["selection"]], "",
              "## Features (what `affect infer` computes for a new video)", "",
              "| feature set | modality | dim | weights | sha256 |", "|---|---|---|---|---|"]
    for name, r in feats.items():
        weights = "RANDOM (seeded)" if r["random"] else r["weights"]
        sha = r["weights_sha256"][:16] + "..." if r.get("weights_sha256") else "-"
        lines.append(f"| {name} | {r['modality']} | {r['dim']} | {weights} (tag `{r['weights_tag']}`) | {sha} |")
    s = info["smoothing"]
    lines += ["", "## Processing", "",
              f"- faces (stage 01): {_pairs(info['settings']['faces'])}",
              f"- audio (stage 03): {_pairs(info['settings']['audio'])}",
              f"- grid (stage 05): {_pairs(info['settings']['align'])}",
              f"- smoothing ({s['kind']}): " + ", ".join(f"{d} {w:g} s" for d, w in s["window_s"].items())
              + f", chosen on {s.get('chosen_on') or 'nothing'}",
              "", "The full training config is `config.yaml`; `affect infer` runs stages 01-05 with it.", "",
              "## Use", "", "```", f"affect infer {info.get('bundle_name', 'BUNDLE')} VIDEO_OR_FOLDER... --out DIR", "```",
              "", "```python", "import affect", "", "model = affect.load_model(\"BUNDLE\")",
              "frames = model.predict_video(\"interview.mp4\")  # frame, time_s, valence, arousal, face", "```", ""]
    return "\n".join(lines)
