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
`results.csv` / `results.md` rank them with the best single feature set on the validation split.
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
    version = 2  # 2: GRUs over time in the fusion model (not a self-attention encoder)
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
        from affect.train.harness import barrier, check_align_errors, is_main, train_device, write_table
        from affect.train.members import plan_members, score_members
        from affect.train.runs import list_runs
        from affect.train.trainer import fit, model_spec

        cfg, tcfg = self.cfg.fusion, self.cfg.fusion.train
        align, unimodal = self.upstream_output("align").path, self.upstream_output("unimodal").path
        check_align_errors(align)
        uni_cfg = self.cfg.unimodal.train
        if (tcfg.fold, tcfg.cv) != (uni_cfg.fold, uni_cfg.cv):
            raise ValueError(f"fusion.train fold={tcfg.fold} cv={tcfg.cv} but the unimodal runs used fold={uni_cfg.fold} "
                             f"cv={uni_cfg.cv}: the ranking and late fusion would see validation clips")
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
                         **score_members(runs, align, members, records, device)})
        uni = list_runs(unimodal)
        late = plan_members("baseline/late", align, tcfg, self.cfg.seed)  # one per fold with cv
        untrained = sorted({f for f in features for m in late if f"unimodal/{f}{m.tag}" not in uni})
        if cfg.baselines and untrained:
            log.warning("no late-fusion baseline: no unimodal run for %s (see unimodal.features)", ", ".join(untrained))
        elif cfg.baselines:
            rows.append({"model": "baseline/late", "features": "+".join(features), "members": len(features),
                         **self._late(out, align, late, uni, features, device)})
        best = pd.read_csv(unimodal / "ranking.csv").iloc[0]
        rows.append({"model": f"unimodal/{best['feature']}", "features": best["feature"], "members": 1,
                     **{k: float(best[k]) for k in ("ccc_valence", "ccc_arousal", "p_va")}})
        if is_main():
            table = write_table(rows, out.path / "results.csv", "Fusion and baselines")
            log.info("fusion results:\n%s", table.to_string(index=False))
            out.mark_done({"features": features, "fold": tcfg.fold, "cv": tcfg.cv})
        barrier()
        return StageReport(self.name, out.path, "ran", processed=len(rows))

    def _late(self, out: StageDir, align, members, uni: dict, features: list[str], device: str) -> dict[str, float]:
        """The late-fusion baseline: run folders naming their members (the unimodal runs of the same
        split: one, or one per fold with cv); validation scores of their average."""
        from affect.train.harness import barrier, is_main
        from affect.train.members import score_members

        for m in members:
            run_dir = out.path / "runs" / m.run
            record = {"name": m.run, "kind": "late", "features": features, "train_clips": m.split.train,
                      "validation_clips": m.split.validation,
                      "members": [os.path.relpath(uni[f"unimodal/{f}{m.tag}"], run_dir) for f in features]}
            if is_main():
                run_dir.mkdir(parents=True, exist_ok=True)
                write_json(run_dir / "run.json", record)
        barrier()
        return score_members(out.path / "runs", align, members, {}, device)
