"""Backbones: a registry of named feature extractors (visual and speech) with offline-first weights."""
