"""The stage cache: fingerprinted output folders, atomic writes, done markers."""
from affect.cache.fingerprint import digest, files_fingerprint, hashed_fields, stage_fingerprint
from affect.cache.store import StageDir

__all__ = ["StageDir", "digest", "files_fingerprint", "hashed_fields", "stage_fingerprint"]
