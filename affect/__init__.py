"""affect: continuous valence-arousal recognition from face video and speech."""
