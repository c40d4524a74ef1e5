"""Stage 09 `evaluate`: the challenge's CCC for every model, raw and smoothed, per clip, with plots.

Scores each model of stage 08 on each labelled split (``evaluate.splits``): global CCC and
P_VA over the concatenated valid frames (``affect.metrics.evaluate``), per-clip CCC beside
it, and every clip it could not score with the reason. "Smoothed" validation scores use stage
08's held-out smoothing (each video smoothed with the windows chosen on the other validation
videos). Writes ``results.csv``, ``per_clip.csv``, ``unscored.csv``, ``metrics.json``,
``plots/*.png`` and ``report.md``. Clips stage 00 rejected are listed in ``unscored.csv`` (per
model, for each scored split) and in ``report.md`` with the clips stage 08 filled in a submission.
Each row of ``results.csv`` names what it was measured on and
how: ``clips`` and ``valid_frames``, ``same_clips`` (False: scored on other clips than most rows of
its split, not like with like), ``selected_on`` (``dev``: every choice made on the inner
development set; ``validation``: on the validation split, whose figures are then optimistic) and
``in_sample`` (train-split clips predicted by runs that trained on them).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir
from affect.cache import atomic
from affect.data.manifest import labels_path, load_labels, read_rejected
from affect.metrics.ccc import DIMS
from affect.report.markdown import build_report, context_section, split_counts
from affect.report.missing import FILLED, FILLED_COLUMNS
from affect.report.plots import ClipCurves, plot_density, plot_series
from affect.report.provenance import fused_sets, random_weight_backbones, records
from affect.report.reference import CEILING, latent_predictions
from affect.report.rejects import rejected_unscored, rejects_section
from affect.report.scoring import UNSCORED_COLUMNS, score
from affect.report.store import ModelOutput, folder_name, load_model, read_models
from affect.report.summary import notes as row_notes
from affect.stages.base import RunOptions, Stage, StageReport

log = logging.getLogger(__name__)

VARIANTS = ("raw", "smoothed")


class EvaluateStage(Stage):
    name = "evaluate"
    number = 9
    version = 6  # 2: the ceiling row of synthetic corpora; 3: validation's smoothed scores from held-out windows
    # 4: selected_on, in_sample, same_clips columns; 5: clips rejected at stage 00 in unscored.csv and report.md
    # 6: the report's random-weights banner, fused sets, counts per split; CCC in plot titles, a colour bar
    requires = ("prepare", "predict")

    def labels(self, manifest: pd.DataFrame, split: str) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
        """The split's labelled clips -> labels; labelled clips whose label array is missing are listed."""
        prepare = self.upstream_output("prepare").path
        rows = manifest[(manifest["split"] == split) & manifest["label_path"].notna()]
        labels, missing = {}, []
        for clip in rows["clip"]:
            if labels_path(prepare, clip).is_file():
                labels[clip] = load_labels(prepare, clip)
            else:
                missing.append({"clip": clip, "reason": f"labels missing from stage 00: {labels_path(prepare, clip)}"})
        return labels, missing

    def covers_all(self, limit: int | None) -> bool:
        return len(self.selected_clips(limit)) == len(self.manifest)

    def plan(self) -> str:
        models = read_models(self.upstream_output("predict").path)
        return f"{len(models)} models x splits {', '.join(self.cfg.evaluate.splits)}"

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        splits = self.cfg.evaluate.splits
        if not splits or set(splits) - {"train", "validation", "test"}:
            raise ValueError(f"evaluate.splits must list some of train, validation, test; got {splits}")
        manifest = self.selected_clips(opts.limit)  # --limit: the clips the upstream stages took
        models = read_models(self.upstream_output("predict").path)
        fps = dict(zip(manifest["clip"], manifest["fps"].astype(float)))
        labelled = {split: self.labels(manifest, split) for split in splits}
        rejected = self.stage00_rejects(opts.limit)
        for split in splits:  # counted and listed as unscored with every model's rows
            labelled[split][1].extend(rejected_unscored(rejected, split))
        results, per_clip, unscored, plots, windows = [], [], [], [], []
        for model, folder in tqdm(models.items(), desc="evaluate", unit="model", disable=None):
            output = load_model(model, folder)
            windows.append({"model": model, "kind": output.smoothing.kind,
                            **{f"{d} (s)": f"{output.smoothing.window_s[d]:g}" for d in DIMS},
                            "chosen on": output.smoothing.chosen_on})
            for split in splits:
                labels, missing = labelled[split]
                in_split = set(manifest.loc[manifest["split"] == split, "clip"]) - {m["clip"] for m in missing}
                for variant, preds in zip(VARIANTS, (output.raw, self.smoothed(output, split))):
                    scored = score({c: v for c, v in preds.items() if c in in_split}, labels)
                    key = {"model": model, "predictions": variant, "split": split}
                    results.append({**key, **scored.row(), "unscored": len(scored.unscored) + len(missing),
                                    **self.protocol_columns(output, split, scored)})
                    if scored.report is not None:
                        per_clip.append(scored.report.per_clip.assign(**key))
                    unscored += [{**key, **u} for u in scored.unscored.to_dict("records") + missing]
            plots += self.plot_model(output, splits[0], labelled[splits[0]][0], fps, out.path / "plots")
        for split in splits:  # a synthetic corpus's ceiling, scored like a model, for reading the others against
            latent = latent_predictions(self.cfg.corpus.root, labelled[split][0])
            if latent is not None:
                scored = score(latent, labelled[split][0])
                results.append({"model": CEILING, "predictions": "raw", "split": split, **scored.row(),
                                "selected_on": "", "in_sample": False, "scored_clips": self.scored_clips(scored)})
        results_df = mark_same_clips(pd.DataFrame(results))
        per_clip_df = pd.concat(per_clip, ignore_index=True) if per_clip else pd.DataFrame()
        unscored_df = pd.DataFrame(unscored, columns=["model", "predictions", "split", *UNSCORED_COLUMNS])
        self.write(out, results_df, per_clip_df, unscored_df, pd.DataFrame(windows), plots)
        atomic.write_text(out.path / "report.md", (out.path / "report.md").read_text()
                          + rejects_section(rejected, self.filled_clips(models)))
        out.mark_done({"models": sorted(models), "unscored": len(unscored_df)})
        return StageReport(self.name, out.path, "ran", len(models), 0)

    def stage00_rejects(self, limit: int | None) -> pd.DataFrame:
        """Stage 00's rejected clips (none for a --limit run, which takes some clips only)."""
        rejected = read_rejected(self.upstream_output("prepare").path)
        return rejected.iloc[:0] if limit is not None else rejected

    @staticmethod
    def filled_clips(models: dict[str, Path]) -> pd.DataFrame:
        """Every model's clips filled by stage 08 in a submission (``predict.missing``)."""
        parts = [pd.read_csv(folder / FILLED, keep_default_na=False).assign(model=model)
                 for model, folder in models.items() if (folder / FILLED).is_file()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["model", *FILLED_COLUMNS])

    @staticmethod
    def scored_clips(scored) -> str:
        return "|".join(sorted(scored.report.per_clip["clip"].astype(str))) if scored.report is not None else ""

    def protocol_columns(self, output: ModelOutput, split: str, scored) -> dict:
        """Where the model's choices were made (stage 08's info.json) and whether any scored clip was
        predicted in sample; the scored clips, for ``mark_same_clips``."""
        clips = self.scored_clips(scored)
        in_sample = set(output.info.get("in_sample", []))
        return {"selected_on": output.info.get("selected_on", "validation") if split != "test" else "",
                "in_sample": bool(in_sample & set(clips.split("|"))) if clips else False,
                "scored_clips": clips}

    @staticmethod
    def smoothed(output: ModelOutput, split: str) -> dict[str, np.ndarray]:
        """The smoothed predictions to score: on validation, each clip smoothed with windows chosen
        on the other validation videos (stage 08's held-out set), so the score is not optimistic."""
        return {**output.final, **output.held_out} if split == "validation" else output.final

    def plot_model(self, output: ModelOutput, split: str, labels: dict[str, np.ndarray], fps: dict[str, float],
                   plots: Path) -> list[Path]:
        """Time series of the labelled clips with the most valid frames, and the VA density, for one model."""
        usable = {c: y for c, y in labels.items()
                  if c in output.raw and len(output.raw[c]) == len(y) and np.isfinite(y).any()}
        if not usable:
            log.warning("evaluate: %s: no scorable %s clip to plot", output.model, split)
            return []
        ranked = sorted(usable, key=lambda c: (-int(np.isfinite(usable[c]).all(axis=1).sum()), c))
        smoothed = self.smoothed(output, split)
        curves = [ClipCurves(c, fps[c], usable[c], output.raw[c], smoothed[c] if output.smoothed else None)
                  for c in ranked[: max(1, self.cfg.evaluate.plot_clips)]]
        name = folder_name(output.model)
        series = plot_series(plots / f"{name}_series.png", curves, f"{output.model}: predicted vs true ({split})")
        pred = np.concatenate([smoothed[c] for c in ranked])
        label = np.concatenate([usable[c] for c in ranked])
        density = plot_density(plots / f"{name}_density.png", pred, label, f"{output.model} ({split})")
        return [series, density]

    def write(self, out: StageDir, results: pd.DataFrame, per_clip: pd.DataFrame, unscored: pd.DataFrame,
              windows: pd.DataFrame, plots: list[Path]) -> None:
        order = {s: i for i, s in enumerate(self.cfg.evaluate.splits)}
        results = results.sort_values(["split", "p_va"], key=lambda col: col.map(order) if col.name == "split" else col,
                                      ascending=[True, False], na_position="last", kind="stable")
        for name, frame in (("results", results), ("per_clip", per_clip), ("unscored", unscored)):
            with atomic.atomic_path(out.path / f"{name}.csv") as tmp:
                frame.to_csv(tmp, index=False)
        atomic.write_json(out.path / "metrics.json", results.to_dict("records"))
        scored = results[results["model"] != CEILING].dropna(subset=["p_va"])
        best = str(scored.iloc[0]["model"]) if len(scored) else ""
        best_rows = per_clip[(per_clip["model"] == best) & (per_clip["predictions"] == scored.iloc[0]["predictions"])
                             ] if best else pd.DataFrame()
        recs = records((s.name, s.number, s.output.path) for s in self.upstream_stages())
        report = build_report(results, windows, best_rows.drop(columns=["model"], errors="ignore"), best or "(none)",
                              unscored, plots, recs, out.path,
                              context=context_section(random_weight_backbones(recs), fused_sets(recs),
                                                      split_counts(self.selected_clips(self.limit))))
        atomic.write_text(out.path / "report.md", report)
        for _, row in results.iterrows():
            log.info("evaluate: %-28s %-8s %-10s P_VA %s (V %s, A %s), %d clips, %s valid frames, %d unscored%s",
                     row["model"], row["predictions"], row["split"], f"{row['p_va']:.4f}", f"{row['ccc_valence']:.4f}",
                     f"{row['ccc_arousal']:.4f}", row["clips"], row.get("valid_frames", "?"), row["unscored"],
                     f" ({row_notes(row)})" if row_notes(row) else "")
        log.info("evaluate: report %s", out.path / "report.md")


def mark_same_clips(results: pd.DataFrame) -> pd.DataFrame:
    """``same_clips``: whether a row was scored on the clip set most rows of its split were scored on
    (ties: the larger set); the helper column ``scored_clips`` is dropped."""
    if results.empty or "scored_clips" not in results:
        return results
    same = pd.Series(True, index=results.index)
    for _, rows in results.groupby("split", sort=False):
        sets = rows["scored_clips"].fillna("")
        counts = sets[sets != ""].value_counts()
        if counts.empty:
            continue
        ref = max(counts.index, key=lambda k: (counts[k], len(k.split("|")), k))
        same[rows.index] = sets == ref
    return results.assign(same_clips=same).drop(columns=["scored_clips"])
