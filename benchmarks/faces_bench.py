"""Stage 01 `faces` benchmark: speed of `extract_faces` against bare MTCNN, and its peak memory.

    python benchmarks/faces_bench.py                 # full run (~10 min on 2 CPU cores)
    python benchmarks/faces_bench.py --minutes 0.5 2 --speed-seconds 10 --rounds 2   # quicker
    python benchmarks/faces_bench.py --only hd reid --hd-frames 48 --rounds 1       # 1080p + re-id only

Videos are generated in a temporary folder: 320x240 at 25 fps, skimage's coffee photo as the
background, the astronaut's head moving over it and leaving the picture for 1 s every 10 s.

1. Speed: frames/s of `extract_faces` (decode + detect + track + align + JPEG store) and of a
   bare loop of facenet-pytorch's `MTCNN.detect` over the same frames, already decoded, in
   batches of the same size. Runs alternate and the best of `--rounds` is kept (the machine may be shared).
   Aim: ratio >= 0.85.
2. Memory: peak RSS (`VmHWM`) of `extract_faces` on a short and a long video, each in a
   fresh subprocess, beside the RSS of a process that only loaded the detector and ran one
   batch; "end" is the RSS when the clip is done. Aim: long within 10% of short (memory does
   not grow with video length). Importing torch and facenet-pytorch alone takes ~0.85 GB;
   see `affect/face/heap.py` for what made the peak climb and how it is kept flat.
3. Crop store: kB per stored crop, random and sequential batched read speed (`CropReader`).
4. 1080p (`hd`): a 1920x1080 scene (coffee background, the astronaut's head moving, a
   bystander beside it). Frames/s of `extract_faces` (detection at `max_side` 640, both passes)
   with and without the reader thread, against a bare `MTCNN.detect` loop over the same frames
   already decoded at 640 px (in the detector's CPU chunks of 8 frames); the time of pass 2
   (second decode at full size + crops). Best of `--rounds`, alternating.
   Aim: ratio >= 0.9 (CPU). With `--device cuda` the detector and the bare loop run on the GPU,
   the bare loop in whole batches as the detector does there.
5. Re-identification threshold (`reid`): dlib descriptor distances between versions of one
   face (mirrored, halved, rotated 10°, blurred, darker, more contrast, JPEG q20) and between
   different people (the four photos in `tests/face/photos` and the astronaut).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage.data import astronaut, coffee

from affect.face.config import FacesConfig
from affect.face.crops import BIN_NAME, CropReader
from affect.face.detect import CPU_CHUNK, FaceDetector
from affect.face.extract import extract_faces
from affect.video.decode import VideoReader
from affect.video.encode import write_video
from bench_device import pick_device, result, sync

W, H, FPS = 320, 240, 25
PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "face" / "photos"
SECTIONS = ("speed", "memory", "store", "hd", "reid")


def scene_frames(n: int):
    """The benchmark scene, frame by frame."""
    bg = np.asarray(Image.fromarray(coffee()).resize((W, H), Image.BILINEAR))
    head = np.asarray(Image.fromarray(astronaut()[17:217, 124:324]).resize((120, 120), Image.BILINEAR))
    for i in range(n):
        frame = bg.copy()
        if i % (10 * FPS) < 9 * FPS:  # away for the last second of every 10
            t = i / FPS
            x = int(100 + 80 * np.sin(2 * np.pi * t / 7))
            y = int(60 + 40 * np.sin(2 * np.pi * t / 5))
            frame[y:y + 120, x:x + 120] = head
        yield frame


def make_video(path: Path, seconds: float) -> tuple[Path, int]:
    n = int(round(seconds * FPS))
    write_video(path, scene_frames(n), fps=FPS)
    return path, n


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise KeyError(key)


def peak_rss_mb() -> float:
    """RSS high-water mark of this process (Linux `VmHWM`).

    Not `ru_maxrss`: that one survives exec, so a child started by a big parent would report
    the parent's size at fork time.
    """
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """Current RSS (Linux `VmRSS`)."""
    return _status_mb("VmRSS")


def child(mode: str, video: str, frames: int, batch_size: int, device: str = "cpu") -> None:
    """Run in a fresh process; print one JSON line."""
    cfg = FacesConfig(batch_size=batch_size)
    detector = FaceDetector(cfg, torch.device(device))
    result: dict = {"mode": mode, "frames": frames}
    if mode == "idle":
        batch = next(iter(VideoReader(video, batch_size=batch_size)))
        detector.detect(batch.frames)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            summary = extract_faces(Path(video), Path(tmp), frames=frames, side=None, cfg=cfg, detector=detector)
            result["seconds"] = time.perf_counter() - t0
            result["found"] = summary["found"]
    result["peak_rss_mb"] = peak_rss_mb()
    result["end_rss_mb"] = rss_mb()
    print(json.dumps(result))


def run_child(mode: str, video: Path, frames: int, batch_size: int, device: str = "cpu") -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(video), str(frames), str(batch_size), device]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def speed(video: Path, frames: int, batch_size: int, rounds: int, out: Path,
          device: torch.device = torch.device("cpu")) -> tuple[float, float, int]:
    """Best-of-`rounds` seconds of the bare detect loop and of extract_faces on the same frames."""
    cfg = FacesConfig(batch_size=batch_size)
    detector = FaceDetector(cfg, device)
    decoded = np.concatenate([b.frames for b in VideoReader(video, batch_size=batch_size)])
    detector.detect(decoded[:batch_size])  # warm-up
    bare, full, found = [], [], 0
    for r in range(rounds):
        t0 = time.perf_counter()
        for s in range(0, len(decoded), batch_size):  # facenet-pytorch's own call, nothing else
            detector.mtcnn.detect(torch.from_numpy(decoded[s:s + batch_size]).to(device), landmarks=True)
        sync(device)
        bare.append(time.perf_counter() - t0)
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        found = extract_faces(video, out, frames=frames, side=None, cfg=cfg, detector=detector)["found"]
        sync(device)
        full.append(time.perf_counter() - t0)
    return min(bare), min(full), found


def hd_frames(n: int, width: int = 1920, height: int = 1080):
    """The 1080p scene, frame by frame: the subject moving, a bystander on the right."""
    bg = np.asarray(Image.fromarray(coffee()).resize((width, height), Image.BILINEAR))
    head = np.asarray(Image.fromarray(astronaut()[17:217, 124:324]).resize((360, 360), Image.BILINEAR))
    other = Image.open(PHOTOS / "shea_whigham.jpg").convert("RGB").crop((150, 40, 340, 255)).resize((240, 270))
    other = np.asarray(other)
    for i in range(n):
        frame = bg.copy()
        x = int(500 + 200 * np.sin(2 * np.pi * i / 60))
        frame[300:660, x:x + 360] = head
        frame[350:620, 1500:1740] = other
        yield frame


def hd_speed(n: int, batch_size: int, rounds: int, tmp: Path, device: torch.device = torch.device("cpu")) -> None:
    """Section 4: 1080p stage vs bare MTCNN loop, reader thread on and off."""
    video = tmp / "hd.mp4"
    t0 = time.perf_counter()
    write_video(video, hd_frames(n), fps=FPS)
    print(f"\n4. 1080p: {n} frames of 1920x1080 generated in {time.perf_counter() - t0:.1f} s; "
          f"detection at max_side {FacesConfig().max_side}, batch {batch_size}")
    cfg = FacesConfig(batch_size=batch_size, reid="geometry")
    detector = FaceDetector(cfg, device)
    chunk = CPU_CHUNK if device.type == "cpu" else batch_size  # as FaceDetector.detect splits a batch
    t0 = time.perf_counter()
    decoded = np.concatenate([b.frames for b in VideoReader(video, batch_size=batch_size, max_side=cfg.max_side,
                                                            threaded=False)])
    decode_small = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in VideoReader(video, batch_size=batch_size, threaded=True):
        pass
    decode_full = time.perf_counter() - t0
    def bare_loop() -> tuple[float, float]:  # facenet-pytorch's own call, in the detector's chunks
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(0, len(decoded), chunk):
            detector.mtcnn.detect(torch.from_numpy(decoded[s:s + chunk]).to(device), landmarks=True)
        sync(device)
        return time.perf_counter() - t0, time.process_time() - c0

    bare_loop()  # warm-up (oneDNN primitives for every shape)
    extract_faces(video, tmp / "hd_warm", frames=min(n, 2 * CPU_CHUNK), side=None, cfg=cfg, detector=detector)
    bare, runs = [], {True: [], False: []}
    for r in range(rounds):
        bare.append(bare_loop())
        for threaded in ((True, False) if r % 2 == 0 else (False, True)):
            out = tmp / f"hd_out_{threaded}"
            shutil.rmtree(out, ignore_errors=True)
            c = FacesConfig(batch_size=batch_size, reid="geometry", reader_thread=threaded)
            t0, c0 = time.perf_counter(), time.process_time()
            summary = extract_faces(video, out, frames=n, side=None, cfg=c, detector=detector)
            sync(device)
            runs[threaded].append((time.perf_counter() - t0, time.process_time() - c0, summary["seconds_crops"],
                                   summary["found"]))
    best_bare = min(bare)
    print("wall = elapsed seconds, cpu = CPU seconds of this process (all threads; steadier on a shared machine)")
    print(f"{'':36s}{'wall s':>8s}{'cpu s':>8s}{'frames/s':>10s}")
    print(f"{'decode + shrink to 640 (1 thread)':36s}{decode_small:8.2f}{'':8s}{n / decode_small:10.1f}")
    print(f"{'decode + RGB at 1080p (threads)':36s}{decode_full:8.2f}{'':8s}{n / decode_full:10.1f}")
    print(f"{'bare MTCNN detect loop (640x360)':36s}{best_bare[0]:8.2f}{best_bare[1]:8.2f}{n / best_bare[0]:10.1f}")
    for threaded in (True, False):
        secs, cpu, crops, found = min(runs[threaded])
        name = f"extract_faces, reader thread {'on' if threaded else 'off'}"
        print(f"{name:36s}{secs:8.2f}{cpu:8.2f}{n / secs:10.1f}   (pass 2: {crops:.2f} s wall, {found} crops)")
    on, off = min(runs[True]), min(runs[False])
    print(f"{'ratio extract (thread on) / bare':36s}{best_bare[0] / on[0]:8.3f}{best_bare[1] / on[1]:8.3f}"
          f"   (aim >= 0.9)")
    print(f"{'speed-up of the reader thread':36s}{off[0] / on[0]:8.3f}")
    result(stage="faces", device=str(device), frames=n, frames_per_s=n / on[0], bare_frames_per_s=n / best_bare[0])


def reid_distances() -> None:
    """Section 5: same-person vs different-person dlib descriptor distances."""
    import io
    import itertools

    from PIL import ImageEnhance, ImageFilter

    from affect.face.reid import load_embedder

    embedder, why = load_embedder("dlib")
    print(f"\n5. re-identification: {why}")
    if embedder is None:
        return
    images = {p.stem: Image.open(p).convert("RGB") for p in sorted(PHOTOS.glob("*.jpg"))}
    images["astronaut"] = Image.fromarray(astronaut())
    detector = FaceDetector(FacesConfig(), torch.device("cpu"))

    def versions(im: Image.Image) -> dict[str, Image.Image]:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=20)
        return {"original": im, "mirrored": im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                "halved": im.resize((im.width // 2, im.height // 2)), "rotated 10": im.rotate(10, Image.BILINEAR),
                "blurred": im.filter(ImageFilter.GaussianBlur(2)), "darker": ImageEnhance.Brightness(im).enhance(0.6),
                "contrast": ImageEnhance.Contrast(im).enhance(1.5), "jpeg q20": Image.open(buf)}
    desc, took = {}, []
    for name, im in images.items():
        for v, img in versions(im).items():
            a = np.array(img.convert("RGB"))
            d = detector.detect(a)[0]
            if len(d):
                t0 = time.perf_counter()
                desc[(name, v)] = embedder(a, d.boxes[np.argmax(d.scores)][None])[0]
                took.append(time.perf_counter() - t0)
    same, diff = [], []
    for a, b in itertools.combinations(desc, 2):
        (same if a[0] == b[0] else diff).append(float(np.linalg.norm(desc[a] - desc[b])))
    same, diff = np.array(same), np.array(diff)
    print(f"{len(images)} people x {len(versions(images['astronaut']))} versions, {len(desc)} faces described, "
          f"{1000 * np.median(took):.0f} ms per face (5-point shape + descriptor)")
    print(f"{'same person':16s} n={len(same):4d}  min {same.min():.3f}  mean {same.mean():.3f}  max {same.max():.3f}")
    print(f"{'different people':16s} n={len(diff):4d}  min {diff.min():.3f}  mean {diff.mean():.3f}  max {diff.max():.3f}")
    print(f"midpoint of the gap {(same.max() + diff.min()) / 2:.3f}; faces.reid_threshold = {FacesConfig().reid_threshold}")


def crop_store(out: Path, batch: int = 64, reads: int = 20) -> tuple[float, float, float]:
    """kB per stored crop, and crops/s of random and of sequential batched reads."""
    reader = CropReader(out)
    have = np.nonzero(reader.has_crop)[0]
    kb = (out / BIN_NAME).stat().st_size / len(have) / 1024
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(reads):
        reader.read(rng.choice(have, batch))
    rand = reads * batch / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for s in range(0, len(reader), batch):
        reader.read(np.arange(s, min(s + batch, len(reader))))
    seq = reader.has_crop.sum() / (time.perf_counter() - t0)
    return kb, rand, seq


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, nargs=2, default=[1.0, 4.0], help="short and long video (minutes)")
    p.add_argument("--speed-seconds", type=float, default=20.0, help="video length for the speed comparison")
    p.add_argument("--rounds", type=int, default=3, help="alternating speed rounds (best kept)")
    p.add_argument("--batch-size", type=int, default=FacesConfig().batch_size)
    p.add_argument("--hd-frames", type=int, default=96, help="frames of the 1080p video")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default); 1 gives steady "
                   "CPU-time figures on a machine shared with other jobs")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                   help="detector device (auto: CUDA if there is one); the re-id section stays on the CPU")
    p.add_argument("--child", nargs=5, metavar=("MODE", "VIDEO", "FRAMES", "BATCH", "DEVICE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        mode, video, frames, bs, dev = args.child
        child(mode, video, int(frames), int(bs), dev)
        return

    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, batch size {args.batch_size}, "
          f"{W}x{H} @ {FPS} fps; sections {' '.join(args.only)}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if "speed" in args.only or "store" in args.only:
            sv, sn = make_video(tmp / "speed.mp4", args.speed_seconds)
            bare, full, found = speed(sv, sn, args.batch_size, args.rounds, tmp / "out", device)
            print(f"\n1. speed, {sn} frames ({found} with a face), best of {args.rounds}")
            print(f"{'':28s}{'seconds':>10s}{'frames/s':>10s}")
            print(f"{'bare MTCNN detect loop':28s}{bare:10.2f}{sn / bare:10.1f}")
            print(f"{'extract_faces':28s}{full:10.2f}{sn / full:10.1f}")
            print(f"{'ratio extract / bare':28s}{'':10s}{bare / full:10.3f}   (aim >= 0.85)")

        if "memory" in args.only:
            sv, sn = make_video(tmp / "speed.mp4", min(args.speed_seconds, 4.0))
            short, short_n = make_video(tmp / "short.mp4", args.minutes[0] * 60)
            long, long_n = make_video(tmp / "long.mp4", args.minutes[1] * 60)
            dev = str(device)
            idle = run_child("idle", sv, sn, args.batch_size, dev)
            rows = [(f"{args.minutes[0]:g} min", short_n, run_child("extract", short, short_n, args.batch_size, dev)),
                    (f"{args.minutes[1]:g} min", long_n, run_child("extract", long, long_n, args.batch_size, dev))]
            print("\n2. peak memory (RSS high-water mark, fresh process each)")
            print(f"{'':28s}{'frames':>8s}{'peak MB':>10s}{'end MB':>10s}{'frames/s':>10s}")
            print(f"{'detector loaded + 1 batch':28s}{'':8s}{idle['peak_rss_mb']:10.0f}{idle['end_rss_mb']:10.0f}")
            for name, n, r in rows:
                print(f"{'extract_faces ' + name:28s}{n:8d}{r['peak_rss_mb']:10.0f}{r['end_rss_mb']:10.0f}"
                      f"{n / r['seconds']:10.1f}")
            ratio = rows[1][2]["peak_rss_mb"] / rows[0][2]["peak_rss_mb"]
            print(f"{'ratio long / short (peak)':28s}{'':8s}{ratio:10.3f}   (aim <= 1.10)")

        if "store" in args.only:
            kb, rand, seq = crop_store(tmp / "out")
            size = FacesConfig().size
            print(f"\n3. crop store ({size}x{size} JPEG q{FacesConfig().jpeg_quality}; raw would be "
                  f"{size * size * 3 / 1024:.0f} kB)")
            print(f"{'kB per crop':28s}{kb:10.1f}")
            print(f"{'random reads, crops/s':28s}{rand:10.0f}   (batches of 64, one process)")
            print(f"{'sequential reads, crops/s':28s}{seq:10.0f}")

        if "hd" in args.only:
            hd_speed(args.hd_frames, args.batch_size, args.rounds, tmp, device)
        if "reid" in args.only:
            reid_distances()


if __name__ == "__main__":
    main()
