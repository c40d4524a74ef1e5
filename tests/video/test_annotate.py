"""`affect infer --render`: the annotated copy keeps each frame at its real time, so picture and sound agree."""
import subprocess

import av
import numpy as np

from affect.video.annotate import frame_slots, render_annotated
from affect.video.encode import write_video
from tests.data.clock_media import ffmpeg


def test_frame_slots_hold_a_frame_through_a_gap_and_map_a_constant_rate_one_to_one():
    fps = 25.0
    assert frame_slots((np.arange(10) + 0.5) / fps, fps).tolist() == list(range(10))
    centres = np.r_[(np.arange(5) + 0.5) / fps, 1.0 + (np.arange(5) + 0.5) / fps]  # 0.8 s without frames
    shown = frame_slots(centres, fps)
    assert len(shown) == 30 and shown[:5].tolist() == [0, 1, 2, 3, 4]
    assert (shown[5:25] == 4).all() and shown[25:].tolist() == [5, 6, 7, 8, 9]


def test_a_variable_rate_video_is_rendered_on_its_real_clock(tmp_path):
    levels = [np.full((120, 160, 3), 5 * i, np.uint8) for i in range(50)]  # frame i: grey 5 i
    write_video(tmp_path / "cfr.mp4", levels)
    video = tmp_path / "gap.mp4"  # frames 25-49 two seconds late: nothing between 0.96 s and 3.0 s
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", str(tmp_path / "cfr.mp4"),
                    "-vf", "setpts='if(gte(N,25),PTS+2/TB,PTS)'", "-fps_mode", "passthrough", "-c:v", "libx264",
                    "-bf", "0", "-pix_fmt", "yuv420p", str(video)], check=True)
    with av.open(str(video)) as f:
        starts = np.array([float(fr.pts * fr.time_base) for fr in f.decode(video=0)])
    assert len(starts) == 50 and starts[25] - starts[24] > 2.0
    n = 50
    written = render_annotated(video, tmp_path / "out.mp4", np.zeros((n, 2)), np.zeros(n, bool),
                               np.full((n, 4), np.nan), 25.0, starts + 0.02)
    with av.open(str(tmp_path / "out.mp4")) as f:
        shown = [(float(fr.pts * fr.time_base), int(round(fr.to_ndarray(format="rgb24")[60, 130].mean() / 5)))
                 for fr in f.decode(video=0)]
    assert written == len(shown) == 100  # 4 s at 25 fps, not 50 frames back to back
    at = dict((round(t * 25), i) for t, i in shown)
    assert at[0] == 0 and at[24] == 24 and at[50] == 24  # held through the gap
    assert at[75] == 25 and at[99] == 49  # frame 25 at 3.0 s, where its sound is
