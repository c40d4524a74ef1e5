"""The line that names the file to upload: right before the copy is made (`affect where`) and after."""
from affect.report.selection import Selection, choose


def test_the_line_names_a_file_before_and_after_publishing(tmp_path):
    chosen = Selection("fusion", "validation", "smoothed", 0.5, source=str(tmp_path / "submission_test.csv"))
    assert f"submission to upload: {tmp_path / 'submission_test.csv'} (model fusion" in chosen.line()
    chosen.path = str(tmp_path / "latest" / "submission.csv")
    assert f"submission to upload: {chosen.path} (model fusion" in chosen.line()


def test_no_test_clips_says_why(tmp_path):
    assert "no test list (corpus/test.txt not found)" in choose(tmp_path, None, 0, "corpus/test.txt").reason
    assert "the test list names no clip" in choose(tmp_path, None, 0).reason
    assert "rejected every test clip (x, y; reasons in its rejected.csv)" in choose(tmp_path, None, 0, "", ["x", "y"]).reason
