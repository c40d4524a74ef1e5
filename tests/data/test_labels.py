import numpy as np
import pytest

from affect.data.labels import LabelFileError, read_va_file, write_va_file


def test_round_trip_and_invalid_is_nan(tmp_path):
    labels = np.array([[0.5, -0.25], [np.nan, np.nan], [1.0, -1.0]], dtype=np.float32)
    write_va_file(tmp_path / "a.txt", labels)
    assert (tmp_path / "a.txt").read_text().splitlines()[:3] == ["valence,arousal", "0.5,-0.25", "-5,-5"]
    np.testing.assert_array_equal(read_va_file(tmp_path / "a.txt"), labels)


@pytest.mark.parametrize("text, line, message", [
    ("", 1, "empty file"),
    ("valence,arousal\n", 2, "no label lines"),
    ("arousal,valence\n0,0\n", 1, "wrong header"),
    ("valence,arousal\n0.1,0.2\n0.1,abc\n", 3, "non-numeric"),
    ("valence,arousal\n0.1,1.5\n", 2, "outside"),
    ("valence,arousal\n0.1\n", 2, "expected 2 values"),
    ("valence,arousal\n0.1,0.1\n\n0.2,0.2\n", 3, "empty line"),
])
def test_bad_files_name_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(LabelFileError, match=message) as info:
        read_va_file(path)
    assert info.value.line == line and f"bad.txt:{line}" in str(info.value)
