"""Stage 07 `fusion`: cross-modal attention fusion of the chosen feature sets, and two baselines.

Feature sets: `fusion.features` by name, or the top `fusion.top_k` of stage 06's ranking (per
modality with `fusion.per_modality`: the k best visual and the k best speech sets).
Runs (same harness as stage 06, in `runs/`): `fusion` (affect.models.fusion), `baseline/early`
(the sets concatenated, one GRU: the MuSe baseline's design) and `baseline/late` (the average
of the stage-06 predictions of the same sets; no training). With `fusion.seeds` N > 1 the two
trained models are each trained N times, as runs `<model>@seed<k>` (seed = `seed` + k), and
scored as the mean of their predictions, which is what stage 08 predicts (affect.report.ensemble).
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

    def members(self, model: str) -> list[tuple[str, int]]:
        """(run name, seed) of each training of ``model``: itself, or ``model@seed<k>`` with fusion.seeds > 1."""
        n, seed = max(1, self.cfg.fusion.seeds), self.cfg.seed
        return [(model, seed)] if n == 1 else [(f"{model}@seed{k}", seed + k) for k in range(n)]
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
        from affect.train.runs import list_runs
        from affect.train.trainer import fit, model_spec

        cfg, tcfg = self.cfg.fusion, self.cfg.fusion.train
        align, unimodal = self.upstream_output("align").path, self.upstream_output("unimodal").path
        check_align_errors(align)
        if tcfg.fold != self.cfg.unimodal.train.fold:
            raise ValueError(f"fusion.train.fold={tcfg.fold} but the unimodal runs used fold "
                             f"{self.cfg.unimodal.train.fold}: the ranking and late fusion would see validation clips")
        features = self.chosen(align, unimodal)
        log.info("fusion of %s", ", ".join(features))
        device = train_device(self.cfg.device)
        jobs = [("fusion", model_spec("fusion", features, align, tcfg, heads=cfg.heads,
                                      modality_dropout=cfg.modality_dropout))]
        if cfg.baselines:
            jobs.append(("baseline/early", model_spec("temporal", features, align, tcfg, model="gru")))
        rows = []
        for name, spec in tqdm(jobs, desc="fusion", unit="model"):
            records = {run: fit(out.path / "runs" / run, align, spec, tcfg, seed, device, name=run)
                       for run, seed in self.members(name)}
            scores = records[name]["val"] if name in records else self._ensemble(out, align, list(records), device)
            rows.append({"model": name, "features": "+".join(features), "members": len(records), **scores})
        uni = list_runs(unimodal)
        untrained = [f for f in features if f"unimodal/{f}" not in uni]
        if cfg.baselines and untrained:
            log.warning("no late-fusion baseline: no unimodal run for %s (see unimodal.features)", ", ".join(untrained))
        elif cfg.baselines:
            rows.append({"model": "baseline/late", "features": "+".join(features), "members": len(features),
                         **self._late(out, align, [uni[f"unimodal/{f}"] for f in features], features, device)})
        best = pd.read_csv(unimodal / "ranking.csv").iloc[0]
        rows.append({"model": f"unimodal/{best['feature']}", "features": best["feature"], "members": 1,
                     **{k: float(best[k]) for k in ("ccc_valence", "ccc_arousal", "p_va")}})
        if is_main():
            table = write_table(rows, out.path / "results.csv", "Fusion and baselines")
            log.info("fusion results:\n%s", table.to_string(index=False))
            out.mark_done({"features": features, "fold": tcfg.fold})
        barrier()
        return StageReport(self.name, out.path, "ran", processed=len(rows))

    def _ensemble(self, out: StageDir, align, runs: list[str], device: str) -> dict[str, float]:
        """Validation scores of the mean of ``runs``' predictions (the model stage 08 will predict)."""
        from affect.report.ensemble import average
        from affect.train.data import make_split
        from affect.train.runs import predict_grid
        from affect.train.trainer import validate

        val = make_split(align, self.cfg.fusion.train.fold).validation
        preds, problems = average([predict_grid(out.path / "runs" / run, align, val, device) for run in runs])
        if problems:
            raise RuntimeError(f"ensemble of {', '.join(runs)}: {problems}")
        return validate(preds, align, val)

    def _late(self, out: StageDir, align, members, features: list[str], device: str) -> dict[str, float]:
        """The late-fusion baseline: a run folder naming its members; validation scores of their average."""
        from affect.train.data import make_split
        from affect.train.harness import barrier, is_main
        from affect.train.runs import predict_grid
        from affect.train.trainer import validate

        run_dir = out.path / "runs" / "baseline" / "late"
        val = make_split(align, self.cfg.fusion.train.fold).validation
        record = {"name": "baseline/late", "kind": "late", "features": features,
                  "members": [os.path.relpath(m, run_dir) for m in members]}
        if is_main():
            run_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "run.json", record)
        barrier()
        scores = validate(predict_grid(run_dir, align, val, device), align, val)
        if is_main():
            write_json(run_dir / "run.json", {**record, "val": scores})
        return scores
