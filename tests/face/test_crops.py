import pickle

import numpy as np
import pytest

from affect.face.crops import BIN_NAME, INDEX_NAME, CropReader, CropWriter


def crops(astro, n):
    return [astro[40 + 7 * i:40 + 7 * i + 64, 150 + 5 * i:150 + 5 * i + 64].copy() for i in range(n)]


def test_round_trip_random_and_batched(tmp_path, astro):
    originals = crops(astro, 6)
    with CropWriter(tmp_path, 10, size=64, quality=95) as w:
        for k, i in enumerate([0, 2, 3, 5, 8, 9]):
            w.write(i, originals[k])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([BIN_NAME, INDEX_NAME])
    r = CropReader(tmp_path)
    assert len(r) == 10 and r.size == 64
    np.testing.assert_array_equal(np.nonzero(r.has_crop)[0], [0, 2, 3, 5, 8, 9])
    got = r.read([9, 1, 0, 3])
    assert got.shape == (4, 64, 64, 3) and got.dtype == np.uint8
    assert (got[1] == 0).all() and r.read_jpeg(1) is None  # no crop for frame 1
    for g, o in [(got[0], originals[5]), (got[2], originals[0]), (got[3], originals[2])]:
        assert np.abs(g.astype(int) - o).mean() < 3  # JPEG q95: close to the original
    np.testing.assert_array_equal(r[3], got[3])
    r2 = pickle.loads(pickle.dumps(r))  # DataLoader workers get a reader without an open map
    np.testing.assert_array_equal(r2.read([5]), r.read([5]))
    r.close()


def test_writer_rejects_out_of_order_and_wrong_size(tmp_path, astro):
    w = CropWriter(tmp_path, 5, size=64)
    w.write(2, crops(astro, 1)[0])
    with pytest.raises(ValueError):
        w.write(2, crops(astro, 1)[0])
    with pytest.raises(ValueError):
        w.write(5, crops(astro, 1)[0])
    with pytest.raises(ValueError):
        w.write(3, np.zeros((32, 32, 3), np.uint8))
    w.close()


def test_store_without_any_crop_and_unfinished_store(tmp_path):
    with CropWriter(tmp_path / "a", 4, size=32):
        pass
    r = CropReader(tmp_path / "a")
    assert len(r) == 4 and not r.has_crop.any()
    assert r.read([0, 3]).shape == (2, 32, 32, 3)
    with pytest.raises(RuntimeError):
        with CropWriter(tmp_path / "b", 4, size=32):
            raise RuntimeError("killed")
    with pytest.raises(FileNotFoundError, match="crop index"):
        CropReader(tmp_path / "b")
