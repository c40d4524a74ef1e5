"""Stages 05-07 components: aligned data, the training loop, trained runs.

    config.py              AlignConfig, TrainConfig, UnimodalConfig, FusionConfig
    gridding.py            labels (per dimension) and feature series onto a clip's grid
    aligned.py             stage 05's per-clip store: write_clip, load_clip (memory-mapped), read_features
    data.py                splits (corpus or fold k), normalisation (train split only), windows, loader fitted to the data
    loss.py                the masked CCC loss, exact across data-parallel processes
    trainer.py             fit: AdamW, warm-up + cosine, clipping, early stopping, checkpoints, resume, DDP
    infer.py               whole-clip prediction (overlapping windows averaged)
    runs.py                list_runs, predict_grid (the API of stage 08)
    harness.py             what stages 06/07 share around fit (device per process, rank-0 writes, tables)
    members.py             seeds and cross-validation folds of one model, scored as one
    selection.py           choose_sets: the sets stage 07 fuses, top k per dimension (or by P_VA)
    stacking.py            per-dimension weights over candidate models (stage 07's fused model)
    synthetic_features.py  feature sets from a synthetic corpus's cues (tests, benchmark)

Models live in affect/models. Nothing here imports torch at module top except loss.py.
"""
