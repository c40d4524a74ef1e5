"""Stage 07 `fusion`: cross-modal attention fusion of the chosen feature sets, a stack that keeps
what each set is good at, and two baselines.

Feature sets: `fusion.features` by name, or from stage 06's ranking (affect.train.selection):
with `fusion.per_dimension` the top `fusion.top_k` by valence CCC and the top `top_k` by arousal
CCC (their union), else the top `top_k` by P_VA; per modality with `fusion.per_modality`.
Runs (same harness as stage 06, in `runs/`): `fusion/xattn` (the cross-modal attention network,
affect.models.fusion), `fusion/xattn-narrow` (the same network on the top `fusion.narrow_k` sets
only, where those are fewer: with few training videos, fewer inputs overfit less), `fusion` (the
fused model: per dimension, weights over the attention networks and
the stage-06 regressors of the fused sets, fitted on the selection set: the inner development set,
or the validation split with `train.select=validation`; `fusion.stack`, affect.train.stacking),
`baseline/early` (the sets concatenated, one GRU: the MuSe baseline's design) and `baseline/late`
(the average of the stage-06 predictions of the same sets; no training). With `fusion.seeds` N > 1
the trained models are each trained N times, as runs `<model>@seed<k>` (seed = `seed` + k), and
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
FUSION = "fusion"  # the fused model: a stack over the attention networks and the fused sets' own regressors
XATTN = "fusion/xattn"  # the cross-modal attention network (affect.models.fusion)
NARROW = "fusion/xattn-narrow"  # the same network on fewer sets (fusion.narrow_k): a second stack candidate


def describe_weights(names: list[str], weights) -> str:
    """'V: fusion/xattn 0.62, unimodal/clip-tiny 0.38; A: unimodal/egemaps 1.00' (weights above 0.005)."""
    return "; ".join(f"{d}: " + ", ".join(f"{n} {w:.2f}" for n, w in zip(names, row) if w > 0.005)
                     for d, row in zip("VA", weights))


class FusionStage(Stage):
    name = "fusion"
    number = 7
    version = 7  # 2: GRUs over time in the fusion model; 3: inner dev selection (train.select), counts, seeds
    # 4: sets chosen per dimension, `fusion` a stack over fusion/xattn and the sets' regressors
    # 5: each seed holds out its own group of training videos (train.dev_rotate); the stack on their union
    # 6: beyond 10 selection videos the stack holds out folds of videos, not each video (affect.train.stacking)
    # 7: a second attention network on the top narrow_k sets (fusion/xattn-narrow), a stack candidate
    requires = ("align", "unimodal")

    def variant(self) -> str:
        return "xattn"

    def _top(self, unimodal, k: int) -> list[str]:
        """The top ``k`` sets of stage 06's ranking, chosen per `fusion.per_modality` and `fusion.per_dimension`."""
        from affect.train.selection import choose_sets

        cfg = self.cfg.fusion
        return choose_sets(pd.read_csv(unimodal / "ranking.csv"), k, cfg.per_modality, cfg.per_dimension)

    def chosen(self, align, unimodal) -> list[str]:
        from affect.train.aligned import check_features, read_features

        available = read_features(align)
        if self.cfg.fusion.features:
            return check_features(list(self.cfg.fusion.features), available)
        return self._top(unimodal, self.cfg.fusion.top_k)

    def narrow(self, unimodal, features: list[str]) -> list[str]:
        """The sets of `fusion/xattn-narrow`: the top `fusion.narrow_k` (chosen as the top `top_k` are), or none
        where `narrow_k` is 0, the sets are named by hand, or they would be the same sets as `features`."""
        cfg = self.cfg.fusion
        if cfg.features or cfg.narrow_k <= 0:
            return []
        sets = self._top(unimodal, cfg.narrow_k)
        return sets if set(sets) != set(features) else []

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        from affect.stages.base import InputError
        from affect.train.data import SplitError
        from affect.train.harness import (barrier, check_align_errors, is_main, mark_clip_sets, table_note,
                                           train_device, write_table)
        from affect.train.members import plan_members, score_members, selected_on, selection_scores
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
        if (tcfg.select, tcfg.dev_fraction, tcfg.dev_rotate) != (uni_cfg.select, uni_cfg.dev_fraction, uni_cfg.dev_rotate):
            raise ValueError(f"fusion.train select={tcfg.select} dev_fraction={tcfg.dev_fraction} dev_rotate="
                             f"{tcfg.dev_rotate} but the unimodal runs used select={uni_cfg.select} dev_fraction="
                             f"{uni_cfg.dev_fraction} dev_rotate={uni_cfg.dev_rotate}: the top-k choice and the fused "
                             "models would be chosen on different clips")
        try:
            plan_members("fusion", align, tcfg, self.cfg.seed)
        except SplitError as e:
            raise InputError(f"stage 07 fusion: {e}") from None
        uni_seeds = max(1, self.cfg.unimodal.seeds)
        if cfg.baselines and uni_seeds != max(1, cfg.seeds):
            log.warning("fusion: %d seed(s) per fusion model but unimodal.seeds=%d: the late-fusion and best-single rows "
                        "are not ensembles of as many runs (set unimodal.seeds=%d)", cfg.seeds, uni_seeds, cfg.seeds)
        features = self.chosen(align, unimodal)
        narrow = self.narrow(unimodal, features)
        log.info("fusion of %s%s", ", ".join(features), f"; {NARROW} of {', '.join(narrow)}" if narrow else "")
        device = train_device(self.cfg.device)

        def attention(sets: list[str]) -> dict:
            return model_spec("fusion", sets, align, tcfg, heads=cfg.heads, modality_dropout=cfg.modality_dropout)

        jobs = [(XATTN, features, attention(features))] + ([(NARROW, narrow, attention(narrow))] if narrow else [])
        if cfg.baselines:
            jobs.append(("baseline/early", features, model_spec("temporal", features, align, tcfg, model="gru")))
        rows, runs, planned = [], out.path / "runs", {}
        for name, sets, spec in tqdm(jobs, desc="fusion", unit="model", disable=None):
            members = planned[name] = plan_members(name, align, tcfg, self.cfg.seed, cfg.seeds)
            records = {m.run: fit(runs / m.run, align, spec, tcfg, m.seed, device, name=m.run, split=m.split)
                       for m in members}
            rows.append({"model": name, "features": "+".join(sets), "members": len(members),
                         "seeds": max(1, cfg.seeds), **score_members(runs, align, members, records, device),
                         **self._dev(selection_scores(runs, align, members, records, device)),
                         "selected_on": selected_on(members)})
        uni = list_runs(unimodal)
        late = plan_members("baseline/late", align, tcfg, self.cfg.seed, uni_seeds)  # the unimodal runs' own tags
        networks = {name: planned[name] for name in (XATTN, NARROW) if name in planned}
        rows.append(self._stack(out, align, networks, late, uni, features, device))
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

    def _stack(self, out: StageDir, align, networks: dict[str, list], late: list, uni: dict, features: list[str],
               device: str) -> dict:
        """The fused model `fusion`: per split (one, or one per fold with cv) a stack over the
        cross-modal attention runs (``networks``: `fusion/xattn` first, then `fusion/xattn-narrow` where
        it was trained) and the unimodal runs of the fused sets, its per-dimension
        weights fitted on the split's selection clips (affect.train.stacking; each of those clips
        scored with weights fitted without its video), so the validation split stays untouched.
        The selection clips are every clip of the inner development sets that each candidate has a
        run holding out (with ``train.dev_rotate`` every seed holds out other training videos, and a
        clip is predicted by the runs that held it out), or the validation split with
        ``select=validation``. ``late``: the late baseline's members, whose tags name the unimodal
        runs (every seed) of each split."""
        from affect.train.aligned import load_clip
        from affect.train.data import Split
        from affect.train.harness import barrier, is_main, write_table
        from affect.train.members import Member, plan_members, score_members, selected_on, selection_scores
        from affect.train.runs import candidate_predictions, read_run
        from affect.train.stacking import MODES, combine, fit_stack
        from affect.train.trainer import validate

        cfg, runs = self.cfg.fusion, out.path / "runs"
        members, described, tried = [], [], {mode: {} for mode in MODES}
        for m in plan_members(FUSION, align, cfg.train, self.cfg.seed):  # one per split (fold)
            run_dir = runs / m.run
            candidates = {name: [runs / x.run for x in nets if x.split.validation == m.split.validation]
                          for name, nets in networks.items()}
            found = {f: [uni[r] for r in (f"unimodal/{f}{u.tag}" for u in late if u.split.validation == m.split.validation)
                         if r in uni] for f in features}
            absent = [f for f, dirs in found.items() if not dirs]
            if absent:
                log.warning("fusion: no unimodal run of %s to stack (see unimodal.features)", ", ".join(absent))
            candidates.update({f"unimodal/{f}": dirs for f, dirs in found.items() if dirs})
            records = {d: read_run(d) for dirs in candidates.values() for d in dirs}
            clips = m.split.validation
            if m.split.dev:  # every candidate has a run that held the clip out
                held = [set().union(*(records[d].get("dev_clips", []) for d in dirs)) for dirs in candidates.values()]
                clips = sorted(set.intersection(*held))
            m = Member(m.model, m.run, m.seed, Split(sorted({c for r in records.values() for c in r.get("train_clips", [])}),
                                                     m.split.validation, clips if m.split.dev else []))
            members.append(m)
            preds = {name: candidate_predictions(dirs, align, clips, device) for name, dirs in candidates.items()}
            grids = {c: load_clip(align, c, features=[]) for c in clips}
            labels, video_of = {c: g.labels for c, g in grids.items()}, {c: g.info.get("video", c) for c, g in grids.items()}
            weights, held_out, modes = fit_stack(preds, labels, video_of, cfg.stack)
            for mode, scored in tried.items():  # every mode on the same predictions, each clip held out (stacking.csv)
                w_all, w_out = (weights, held_out) if mode == cfg.stack else fit_stack(preds, labels, video_of, mode)[:2]
                scored.update({c: combine([p[c] for p in preds.values()], w_out.get(c, w_all)) for c in clips})
            record = {"name": m.run, "kind": "stack", "mode": cfg.stack, "modes": modes, "features": features,
                      "train_clips": m.split.train, "dev_clips": m.split.dev, "validation_clips": m.split.validation,
                      "selected_on": m.split.selected_on,
                      # a list, in the weights' column order (run.json is written with sorted keys)
                      "candidates": [{"name": n, "runs": [os.path.relpath(d, run_dir) for d in dirs]}
                                     for n, dirs in candidates.items()],
                      "weights": weights.round(6).tolist(),
                      "held_out": {c: w.round(6).tolist() for c, w in held_out.items()}}
            described.append(("" if cfg.stack != "auto" else f"auto: V {modes[0]}, A {modes[1]}; ")
                             + describe_weights(list(candidates), weights))
            log.info("%s: stack on %d selection clip(s) of %d video(s): %s", m.run, len(clips),
                     len(set(video_of.values())), described[-1])
            if is_main():
                run_dir.mkdir(parents=True, exist_ok=True)
                write_json(run_dir / "run.json", record)
        if is_main():
            write_table([{"stack": mode, **validate(scored, align, sorted(scored))} for mode, scored in tried.items()],
                        out.path / "stacking.csv", "Stacking modes of the fused model (each selection clip held out)")
        barrier()
        return {"model": FUSION, "features": "+".join(features), "members": len(members),
                "seeds": max(1, cfg.seeds), **score_members(runs, align, members, {}, device),
                **self._dev(selection_scores(runs, align, members, {}, device)),
                "selected_on": selected_on(members), "stack": " | ".join(described)}

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
