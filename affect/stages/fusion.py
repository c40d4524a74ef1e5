"""Stage 07 `fusion`: cross-modal attention fusion of the chosen feature sets, a stack that keeps
what each set is good at, and two baselines.

Feature sets: `fusion.features` by name, or from stage 06's ranking (affect.train.selection):
with `fusion.per_dimension` the top `fusion.top_k` by valence CCC and the top `top_k` by arousal
CCC (their union), else the top `top_k` by P_VA; per modality with `fusion.per_modality`.
Runs (same harness as stage 06, in `runs/`): `fusion/xattn` (the cross-modal attention network,
affect.models.fusion), `fusion` (the fused model: per dimension, weights over `fusion/xattn` and
the stage-06 regressors of the fused sets, fitted on the validation split, `fusion.stack`;
affect.train.stacking), `baseline/early` (the sets concatenated, one GRU: the MuSe baseline's
design) and `baseline/late` (the average of the stage-06 predictions of the same sets; no
training). With `fusion.seeds` N > 1 the two trained models are each trained N times, as runs
`<model>@seed<k>` (seed = `seed` + k), and scored as the mean of their predictions, which is
what stage 08 predicts (affect.report.ensemble). With `fusion.train.cv` (as `unimodal.train.cv`)
every model is one run per fold, scored out of fold (affect.train.members).
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
FUSION = "fusion"  # the fused model: a stack over the attention network and the fused sets' own regressors
XATTN = "fusion/xattn"  # the cross-modal attention network (affect.models.fusion)


def describe_weights(names: list[str], weights) -> str:
    """'V: fusion/xattn 0.62, unimodal/clip-tiny 0.38; A: unimodal/egemaps 1.00' (weights above 0.005)."""
    return "; ".join(f"{d}: " + ", ".join(f"{n} {w:.2f}" for n, w in zip(names, row) if w > 0.005)
                     for d, row in zip("VA", weights))


class FusionStage(Stage):
    name = "fusion"
    number = 7
    version = 3  # 2: GRUs over time in the fusion model; 3: sets chosen per dimension, `fusion` a stack over fusion/xattn and the sets' regressors
    requires = ("align", "unimodal")

    def variant(self) -> str:
        return "xattn"

    def chosen(self, align, unimodal) -> list[str]:
        from affect.train.aligned import check_features, read_features
        from affect.train.selection import choose_sets

        available = read_features(align)
        if self.cfg.fusion.features:
            return check_features(list(self.cfg.fusion.features), available)
        cfg = self.cfg.fusion
        return choose_sets(pd.read_csv(unimodal / "ranking.csv"), cfg.top_k, cfg.per_modality, cfg.per_dimension)

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        from affect.train.harness import barrier, check_align_errors, is_main, train_device, write_table
        from affect.train.members import plan_members, score_members
        from affect.train.runs import list_runs
        from affect.train.stacking import MODES
        from affect.train.trainer import fit, model_spec

        cfg, tcfg = self.cfg.fusion, self.cfg.fusion.train
        if cfg.stack not in MODES:
            raise ValueError(f"fusion.stack must be one of {', '.join(MODES)}, got {cfg.stack!r}")
        align, unimodal = self.upstream_output("align").path, self.upstream_output("unimodal").path
        check_align_errors(align)
        uni_cfg = self.cfg.unimodal.train
        if (tcfg.fold, tcfg.cv) != (uni_cfg.fold, uni_cfg.cv):
            raise ValueError(f"fusion.train fold={tcfg.fold} cv={tcfg.cv} but the unimodal runs used fold={uni_cfg.fold} "
                             f"cv={uni_cfg.cv}: the ranking and late fusion would see validation clips")
        features = self.chosen(align, unimodal)
        log.info("fusion of %s", ", ".join(features))
        device = train_device(self.cfg.device)
        jobs = [(XATTN, model_spec("fusion", features, align, tcfg, heads=cfg.heads,
                                   modality_dropout=cfg.modality_dropout))]
        if cfg.baselines:
            jobs.append(("baseline/early", model_spec("temporal", features, align, tcfg, model="gru")))
        rows, runs, planned = [], out.path / "runs", {}
        for name, spec in tqdm(jobs, desc="fusion", unit="model"):
            members = planned[name] = plan_members(name, align, tcfg, self.cfg.seed, cfg.seeds)
            records = {m.run: fit(runs / m.run, align, spec, tcfg, m.seed, device, name=m.run, split=m.split)
                       for m in members}
            rows.append({"model": name, "features": "+".join(features), "members": len(members),
                         **score_members(runs, align, members, records, device)})
        uni = list_runs(unimodal)
        rows.append(self._stack(out, align, planned[XATTN], uni, features, device))
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

    def _stack(self, out: StageDir, align, xattn: list, uni: dict, features: list[str], device: str) -> dict:
        """The fused model `fusion`: per split (one, or one per fold with cv) a stack over the
        cross-modal attention runs and the unimodal runs of the fused sets, its per-dimension
        weights fitted on the split's validation clips (affect.train.stacking; each of those
        clips scored with weights fitted without its video)."""
        from affect.train.aligned import load_clip
        from affect.train.harness import barrier, is_main, write_table
        from affect.train.members import plan_members, score_members
        from affect.train.runs import candidate_predictions
        from affect.train.stacking import MODES, combine, fit_stack
        from affect.train.trainer import validate

        cfg, runs = self.cfg.fusion, out.path / "runs"
        members = plan_members(FUSION, align, cfg.train, self.cfg.seed)
        described, tried = [], {mode: {} for mode in MODES}
        for m in members:
            run_dir = runs / m.run
            candidates = {XATTN: [runs / x.run for x in xattn if x.split.validation == m.split.validation]}
            absent = [f for f in features if f"unimodal/{f}{m.tag}" not in uni]
            if absent:
                log.warning("fusion: no unimodal run of %s to stack (see unimodal.features)", ", ".join(absent))
            candidates.update({f"unimodal/{f}": [uni[f"unimodal/{f}{m.tag}"]] for f in features if f not in absent})
            clips = m.split.validation
            preds = {name: candidate_predictions(dirs, align, clips, device) for name, dirs in candidates.items()}
            grids = {c: load_clip(align, c, features=[]) for c in clips}
            labels, video_of = {c: g.labels for c, g in grids.items()}, {c: g.info.get("video", c) for c, g in grids.items()}
            weights, held_out = fit_stack(preds, labels, video_of, cfg.stack)
            for mode, scored in tried.items():  # every mode on the same predictions, each clip held out (stacking.csv)
                w_all, w_out = (weights, held_out) if mode == cfg.stack else fit_stack(preds, labels, video_of, mode)
                scored.update({c: combine([p[c] for p in preds.values()], w_out.get(c, w_all)) for c in clips})
            record = {"name": m.run, "kind": "stack", "mode": cfg.stack, "features": features,
                      "train_clips": m.split.train, "validation_clips": clips,
                      # a list, in the weights' column order (run.json is written with sorted keys)
                      "candidates": [{"name": n, "runs": [os.path.relpath(d, run_dir) for d in dirs]}
                                     for n, dirs in candidates.items()],
                      "weights": weights.round(6).tolist(),
                      "held_out": {c: w.round(6).tolist() for c, w in held_out.items()}}
            described.append(describe_weights(list(candidates), weights))
            log.info("%s: %s", m.run, described[-1])
            if is_main():
                run_dir.mkdir(parents=True, exist_ok=True)
                write_json(run_dir / "run.json", record)
        if is_main():
            write_table([{"stack": mode, **validate(scored, align, sorted(scored))} for mode, scored in tried.items()],
                        out.path / "stacking.csv", "Stacking modes of the fused model (each clip held out)")
        barrier()
        return {"model": FUSION, "features": "+".join(features), "members": len(members),
                **score_members(runs, align, members, {}, device), "stack": " | ".join(described)}

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
