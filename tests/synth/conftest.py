"""Fixtures for the synthetic-corpus tests: one small corpus per session and a face detector."""
from __future__ import annotations

from pathlib import Path

import pytest

from affect.synth import generate_corpus


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> tuple[Path, dict]:
    """(root, returned record) of a 6-clip corpus of 4 s videos, with cropped_aligned/."""
    root = tmp_path_factory.mktemp("synth_gen") / "corpus"
    record = generate_corpus(root, clips=6, seconds=4.0, seed=11, cropped_aligned=True)
    return root, record


@pytest.fixture(scope="session")
def mtcnn():
    """facenet-pytorch's MTCNN (weights ship in the wheel), all faces, smallest face 20 px."""
    facenet = pytest.importorskip("facenet_pytorch")
    return facenet.MTCNN(keep_all=True, device="cpu", min_face_size=20)
