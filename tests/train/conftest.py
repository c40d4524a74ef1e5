import pytest

from aligned_fixture import make_aligned


@pytest.fixture
def aligned(tmp_path):
    return make_aligned(tmp_path / "align")
