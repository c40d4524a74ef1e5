"""Stage 07 `fusion`: cross-modal attention fusion of the chosen feature sets, and two baselines.

Feature sets: `fusion.features` by name, or the top `fusion.top_k` of stage 06's ranking (per
modality with `fusion.per_modality`: the k best visual and the k best speech sets).
Runs (same harness as stage 06, in `runs/`): `fusion` (affect.models.fusion), `baseline/early`
(the sets concatenated, one GRU: the MuSe baseline's design) and `baseline/late` (the average
of the stage-06 predictions of the same sets; no training). With `fusion.seeds` N > 1 the two
trained models are each trained N times, as runs `<model>@seed<k>` (seed = `seed` + k), and
scored as the mean of their predictions, which is what stage 08 predicts (affect.report.ensemble).
With `fusion.train.cv` (as `unimodal.train.cv`) every model is one run per fold, scored out of
fold (affect.train.members).
`results.csv` / `results.md` rank them with the best single feature set (the top of stage 06's
ranking, chosen on the selection set, never the best of the validation figures) by their validation
figures, scored once by models that never trained on those clips. Each row names its members
(runs) and seeds, the clips and valid grid steps it was measured on (`same_clips` flags a row
measured on other clips than the first), its selection-set P_VA (`dev_p_va`) and `selected_on`
(dev | validation). The late baseline and the best-single row are ensembles of `unimodal.seeds`
runs per feature set; set it to `fusion.seeds` for like-with-like rows (a warning says when not).
"""
from __future__ import annotations

import logging
import os

import pandas as pd
from tqdm import tqdm

from affect.cache import StageDir
from affect.cache.atomic import write_json
from affect.stages.base import RunOptions, Stage, StageReport

log = logging.getLogger(__name__)


class FusionStage(Stage):
    name = "fusion"
    number = 7
    version = 3  # 2: GRUs over time in the fusion model; 3: inner dev selection (train.select), counts, seeds
    requires = ("align", "unimodal")

    def variant(self) -> str:
        return "xattn"

    def chosen(self, align, unimodal) -> list[str]:
        from affect.train.aligned import check_features, read_features

        available = read_features(align)
        if self.cfg.fusion.features:
            return check_features(list(self.cfg.fusion.features), available)
        ranking = pd.read_csv(unimodal / "ranking.csv")  # best first
        k = max(1, self.cfg.fusion.top_k)
        if not self.cfg.fusion.per_modality:
            return ranking["feature"].tolist()[:k]
        return ranking.groupby("modality", sort=False).head(k)["feature"].tolist()

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        from affect.stages.base import InputError
        from affect.train.data import SplitError
        from affect.train.harness import (barrier, check_align_errors, is_main, mark_clip_sets, table_note,
                                           train_device, write_table)
        from affect.train.members import plan_members, score_members, selected_on, selection_scores
        from affect.train.runs import list_runs
        from affect.train.trainer import fit, model_spec

        cfg, tcfg = self.cfg.fusion, self.cfg.fusion.train
        align, unimodal = self.upstream_output("align").path, self.upstream_output("unimodal").path
        check_align_errors(align)
        uni_cfg = self.cfg.unimodal.train
        if (tcfg.fold, tcfg.cv) != (uni_cfg.fold, uni_cfg.cv):
            raise ValueError(f"fusion.train fold={tcfg.fold} cv={tcfg.cv} but the unimodal runs used fold={uni_cfg.fold} "
                             f"cv={uni_cfg.cv}: the ranking and late fusion would see validation clips")
        if (tcfg.select, tcfg.dev_fraction) != (uni_cfg.select, uni_cfg.dev_fraction):
            raise ValueError(f"fusion.train select={tcfg.select} dev_fraction={tcfg.dev_fraction} but the unimodal runs "
                             f"used select={uni_cfg.select} dev_fraction={uni_cfg.dev_fraction}: the top-k choice and "
                             "the fused models would be chosen on different clips")
        try:
            plan_members("fusion", align, tcfg, self.cfg.seed)
        except SplitError as e:
            raise InputError(f"stage 07 fusion: {e}") from None
        uni_seeds = max(1, self.cfg.unimodal.seeds)
        if cfg.baselines and uni_seeds != max(1, cfg.seeds):
            log.warning("fusion: %d seed(s) per fusion model but unimodal.seeds=%d: the late-fusion and best-single rows "
                        "are not ensembles of as many runs (set unimodal.seeds=%d)", cfg.seeds, uni_seeds, cfg.seeds)
        features = self.chosen(align, unimodal)
        log.info("fusion of %s", ", ".join(features))
        device = train_device(self.cfg.device)
        jobs = [("fusion", model_spec("fusion", features, align, tcfg, heads=cfg.heads,
                                      modality_dropout=cfg.modality_dropout))]
        if cfg.baselines:
            jobs.append(("baseline/early", model_spec("temporal", features, align, tcfg, model="gru")))
        rows, runs = [], out.path / "runs"
        for name, spec in tqdm(jobs, desc="fusion", unit="model"):
            members = plan_members(name, align, tcfg, self.cfg.seed, cfg.seeds)
            records = {m.run: fit(runs / m.run, align, spec, tcfg, m.seed, device, name=m.run, split=m.split)
                       for m in members}
            rows.append({"model": name, "features": "+".join(features), "members": len(members),
                         "seeds": max(1, cfg.seeds), **score_members(runs, align, members, records, device),
                         **self._dev(selection_scores(runs, align, members, records, device)),
                         "selected_on": selected_on(members)})
        uni = list_runs(unimodal)
        late = plan_members("baseline/late", align, tcfg, self.cfg.seed, uni_seeds)  # the unimodal runs' own tags
        untrained = sorted({f for f in features for m in late if f"unimodal/{f}{m.tag}" not in uni})
        if cfg.baselines and untrained:
            log.warning("no late-fusion baseline: no unimodal run for %s (see unimodal.features)", ", ".join(untrained))
        elif cfg.baselines:
            rows.append({"model": "baseline/late", "features": "+".join(features), "members": len(late) * len(features),
                         "seeds": uni_seeds, **self._late(out, align, late, uni, features, device),
                         "selected_on": selected_on(late)})
        best = pd.read_csv(unimodal / "ranking.csv").iloc[0]  # ranked on the selection set (stage 06)
        rows.append({"model": f"unimodal/{best['feature']}", "features": best["feature"], "members": int(best["runs"]),
                     "seeds": uni_seeds, **{k: best[f"val_{k}"] for k in ("ccc_valence", "ccc_arousal", "p_va")},
                     **{k: int(best[f"val_{k}"]) for k in ("clips", "valid_steps")},
                     "dev_p_va": float(best["p_va"]), "selected_on": str(best["ranked_on"])})
        if is_main():
            mark_clip_sets(rows)
            table = write_table(rows, out.path / "results.csv", "Fusion and baselines", table_note(tcfg.select, tcfg.cv))
            log.info("fusion results:\n%s", table.to_string(index=False))
            out.mark_done({"features": features, "fold": tcfg.fold, "cv": tcfg.cv, "select": tcfg.select})
        barrier()
        return StageReport(self.name, out.path, "ran", processed=len(rows))

    @staticmethod
    def _dev(scores: dict) -> dict:
        """The selection-set figure of a row (its P_VA), beside the validation figures."""
        return {"dev_p_va": scores["p_va"]}

    def _late(self, out: StageDir, align, members, uni: dict, features: list[str], device: str) -> dict:
        """The late-fusion baseline: run folders naming their members (the unimodal runs of the same
        split: one, or one per fold with cv); validation scores of their average."""
        from affect.train.harness import barrier, is_main
        from affect.train.members import score_members, selection_scores

        for m in members:
            run_dir = out.path / "runs" / m.run
            record = {"name": m.run, "kind": "late", "features": features, "train_clips": m.split.train,
                      "dev_clips": m.split.dev, "validation_clips": m.split.validation,
                      "selected_on": m.split.selected_on,
                      "members": [os.path.relpath(uni[f"unimodal/{f}{m.tag}"], run_dir) for f in features]}
            if is_main():
                run_dir.mkdir(parents=True, exist_ok=True)
                write_json(run_dir / "run.json", record)
        barrier()
        runs = out.path / "runs"
        return {**score_members(runs, align, members, {}, device),
                **self._dev(selection_scores(runs, align, members, {}, device))}
