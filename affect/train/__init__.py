"""Stages 05-07 components: aligned data, the training loop, trained runs.

    config.py              AlignConfig, TrainConfig, UnimodalConfig, FusionConfig
    gridding.py            labels (per dimension) and feature series onto a clip's grid
    aligned.py             stage 05's per-clip store: write_clip, load_clip (memory-mapped), read_features
    data.py                splits (corpus or fold k), normalisation (train split only), windows
    loss.py                the masked CCC loss, exact across data-parallel processes
    trainer.py             fit: AdamW, warm-up + cosine, clipping, early stopping, checkpoints, resume, DDP
    infer.py               whole-clip prediction (overlapping windows averaged)
    runs.py                list_runs, predict_grid (the API of stage 08)
    harness.py             what stages 06/07 share around fit (device per process, rank-0 writes, tables)
    synthetic_features.py  feature sets from a synthetic corpus's cues (tests, benchmark)

Models live in affect/models. Nothing here imports torch at module top except loss.py.
"""
