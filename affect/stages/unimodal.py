"""Stage 06 `unimodal`: one temporal regressor (gru | tcn | transformer) per aligned feature set.

Each run lives in `runs/unimodal/<feature>/` (checkpoints, history.csv, run.json), or with
`unimodal.train.cv` one per fold in `runs/unimodal/<feature>@fold<k>/` (affect.train.members);
with `unimodal.seeds` N > 1, N runs `<feature>@seed<k>` averaged. The stage writes `ranking.csv`
and `ranking.md`: feature sets ranked by their P_VA (grid CCC) on the selection set
(`unimodal.train.select`: the inner development set of training videos by default, columns
`ccc_valence`, `ccc_arousal`, `p_va`, `clips`, `valid_steps`, `ranked_on`), beside their validation
figures scored once (`val_*`; with cv, out of fold over every labelled clip), with each set's rank
on valence and on arousal (`rank_valence`, `rank_arousal`: stage 07 fuses the best per dimension,
affect.train.selection). Runs are resumable: a finished run is kept, an interrupted one continues
from its `last.pt`.
"""
from __future__ import annotations

import logging

from tqdm import tqdm

from affect.cache import StageDir
from affect.stages.base import RunOptions, Stage, StageReport

log = logging.getLogger(__name__)


class UnimodalStage(Stage):
    name = "unimodal"
    number = 6
    version = 4  # 2: ranked on the inner development set (train.select), unimodal.seeds, clip/step counts
    # 3: ranking.csv ranks each set on valence and on arousal too (rank_valence, rank_arousal)
    # 4: each seed holds out its own group of training videos (train.dev_rotate)
    requires = ("align",)

    def variant(self) -> str:
        return self.cfg.unimodal.model

    def plan(self) -> str:
        return f"{self.cfg.unimodal.model} regressors on {', '.join(self.cfg.unimodal.features) or 'every feature set'}"

    def execute(self, out: StageDir, opts: RunOptions) -> StageReport:
        from affect.train.aligned import check_features, read_features
        from affect.stages.base import InputError
        from affect.train.data import SplitError
        from affect.train.harness import (barrier, check_align_errors, is_main, mark_clip_sets, table_note,
                                           train_device, write_table)
        from affect.train.members import plan_members, score_members, selected_on, selection_scores
        from affect.train.selection import dimension_ranks
        from affect.train.trainer import fit, model_spec

        cfg, tcfg = self.cfg.unimodal, self.cfg.unimodal.train
        align = self.upstream_output("align").path
        check_align_errors(align)
        info = read_features(align)
        features = check_features(list(cfg.features), info)
        device = train_device(self.cfg.device)
        try:  # the split is the same for every feature set: refuse a bad one before any training
            plan_members("unimodal", align, tcfg, self.cfg.seed, cfg.seeds)
        except SplitError as e:
            raise InputError(f"stage 06 unimodal: {e}") from None
        rows = []
        runs = out.path / "runs"
        for name in tqdm(features, desc="unimodal", unit="feature set", disable=None):
            spec = model_spec("temporal", [name], align, tcfg, model=cfg.model)
            members = plan_members(f"unimodal/{name}", align, tcfg, self.cfg.seed, cfg.seeds)
            records = {m.run: fit(runs / m.run, align, spec, tcfg, m.seed, device, name=m.run, split=m.split)
                       for m in members}
            val = score_members(runs, align, members, records, device)
            rows.append({"feature": name, "modality": info[name]["modality"],
                         **selection_scores(runs, align, members, records, device),
                         "ranked_on": selected_on(members),
                         **{f"val_{k}": v for k, v in val.items()}, "runs": len(members),
                         "best_epoch": "/".join(str(r["best_epoch"]) for r in records.values()),
                         "epochs": "/".join(str(r["epochs_run"]) for r in records.values())})
        if is_main():
            mark_clip_sets(rows)
            table = write_table(dimension_ranks(rows), out.path / "ranking.csv", f"Unimodal ranking ({cfg.model})",
                                table_note(tcfg.select, tcfg.cv))
            log.info("unimodal ranking:\n%s", table.to_string(index=False))
            out.mark_done({"ranking": table["feature"].tolist(), "fold": tcfg.fold, "cv": tcfg.cv,
                           "select": tcfg.select, "seeds": cfg.seeds})
        barrier()
        return StageReport(self.name, out.path, "ran", processed=len(features))
