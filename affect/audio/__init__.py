"""Stages 03 `audio` and 04 `speech` components: waveform, denoising, speech activity, encoders."""
