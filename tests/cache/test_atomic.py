import pytest

from affect.cache import atomic


def test_atomic_dir_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "clips" / "a"
    with pytest.raises(RuntimeError):
        with atomic.atomic_dir(target) as tmp:
            (tmp / "half.npy").write_bytes(b"x")
            raise RuntimeError("killed")
    assert not target.exists() and list((tmp_path / "clips").iterdir()) == []
    with atomic.atomic_dir(target) as tmp:
        (tmp / "whole.npy").write_bytes(b"x")
    assert (target / "whole.npy").read_bytes() == b"x"


def test_atomic_file_and_sweep(tmp_path):
    path = tmp_path / "m.json"
    atomic.write_json(path, {"a": 1})
    assert path.read_text().strip().startswith("{")
    (tmp_path / f"x{atomic.TMP_INFIX}123-abc").mkdir()
    (tmp_path / f"y.npy{atomic.TMP_INFIX}9-def").write_bytes(b"")
    assert atomic.sweep_tmp(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
