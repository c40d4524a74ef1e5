"""Stage 02 `visual` components: embeddings of the aligned face crops."""
