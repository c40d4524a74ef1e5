"""The moving face: a real photograph (skimage's astronaut) warped onto a frame, shaped and tinted by the cues.

A `Face` is an RGBA sprite (the head cut out of the photo with a soft elliptical mask), the
positions of its eyes, and two displacement fields (the expression). `HeadMotion` gives, per video
frame, where the face is (centre, scale, rotation): a slow drift, a faster jitter whose amplitude
follows arousal (head-motion speed), and optionally an exit (the face leaves the frame and comes
back). The cues change the face as real faces change:

* shape (`face_shape`, a smooth local warp of the photo): valence lifts the mouth corners (smile)
  or lowers them (frown); arousal, weakly, raises the brows and opens the eyes;
* colour (`face_colour`): valence brightness and a warm/cool tint; arousal saturation.

`paint_face` places the sprite in the frame; `aligned_crop` cuts the 112x112 eye-levelled crop
that a face aligner would produce.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from affect.synth.trajectory import pulse, smooth_noise

TRANSITION_S = 0.12  # how long a face takes to leave the frame (or be covered), and to come back

# The head in skimage.data.astronaut() (512x512): rows 8-216, cols 136-316 of the photograph.
HEAD_ROWS = (8, 216)
HEAD_COLS = (136, 316)
# Eye centres in the photograph (x, y), as MTCNN finds them; the mask ellipse (centre, semi-axes).
EYES_XY = ((205.0, 101.7), (246.8, 103.7))
ELLIPSE = ((89.0, 97.0), (70.0, 95.0))
# Points of the photograph (x, y) as dlib's 68-point shape predictor finds them (HOG detector box,
# iBUG indices): mouth corners 48 and 54, brow centres (mean of 17-21, 22-26), eye centres (mean
# of 36-41, 42-47). tests/synth/test_face_shape.py checks them against dlib.
LANDMARKS_XY = {
    "mouth_corners": ((201.0, 139.0), (246.0, 141.0)),
    "brows": ((200.4, 90.0), (251.4, 93.2)),
    "eyes": ((203.2, 101.5), (246.5, 104.2)),
}
# The expression warp, per unit of cue (sprite pixels; the inter-ocular distance is 43 px):
# valence moves each mouth corner up (+) or down (-) by CORNER_PX with a Gaussian falloff of
# CORNER_SIGMA px; arousal raises each brow by BROW_PX (falloff BROW_SIGMA) and stretches
# each eye vertically about its centre by EYE_STRETCH (falloff EYE_SIGMA). Cues are clipped to
# +-SHAPE_CLIP, where the displacement's gradient stays below 0.7 (the warp stays one-to-one).
CORNER_PX, CORNER_SIGMA = 5.0, 7.0
BROW_PX, BROW_SIGMA = 2.5, (13.0, 6.0, 4.0)  # x, y above the brow, y below (the eye centre stays)
EYE_STRETCH, EYE_SIGMA = 0.2, (8.0, 5.0)
SHAPE_CLIP = 1.6
# ArcFace's 112x112 template: where the aligned crop puts the eyes.
TEMPLATE_EYES = ((38.29, 51.70), (73.53, 51.50))
ALIGNED_SIZE = 112


@lru_cache(maxsize=1)
def _photo_head() -> np.ndarray:
    from skimage.data import astronaut

    return astronaut()[HEAD_ROWS[0]:HEAD_ROWS[1], HEAD_COLS[0]:HEAD_COLS[1]].astype(np.float32)


@dataclass(frozen=True)
class Face:
    """An RGB head cut-out (float32, 0-255), its alpha (0-1), eye centres (x, y), left eye first, and
    the expression: `fields` [2 cues (valence, arousal), 2 (dx, dy), h, w] float32, the displacement
    per unit of cue over the sprite's rows/cols `patch` (zero outside)."""

    rgb: np.ndarray
    alpha: np.ndarray
    eyes: tuple[tuple[float, float], tuple[float, float]]
    fields: np.ndarray | None = None
    patch: tuple[slice, slice] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sprite."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _gauss(xx: np.ndarray, yy: np.ndarray, centre: tuple[float, float], sigma: tuple[float, float]) -> np.ndarray:
    return np.exp(-0.5 * (((xx - centre[0]) / sigma[0]) ** 2 + ((yy - centre[1]) / sigma[1]) ** 2))


def expression_fields(points: dict[str, list[tuple[float, float]]], h: int, w: int
                      ) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The displacement per unit of cue [2 (valence, arousal), 2 (dx, dy), rows, cols] over the patch
    of an h x w sprite where it is not negligible, from the sprite's landmark `points` (LANDMARKS_XY's keys)."""
    yy, xx = np.mgrid[:h, :w].astype(np.float64)
    fields = np.zeros((2, 2, h, w))
    for c in points["mouth_corners"]:
        fields[0, 1] -= CORNER_PX * _gauss(xx, yy, c, (CORNER_SIGMA, CORNER_SIGMA))
    for c in points["brows"]:
        sigma_y = np.where(yy < c[1], BROW_SIGMA[1], BROW_SIGMA[2])
        fields[1, 1] -= BROW_PX * np.exp(-0.5 * (((xx - c[0]) / BROW_SIGMA[0]) ** 2 + ((yy - c[1]) / sigma_y) ** 2))
    for c in points["eyes"]:
        fields[1, 1] += EYE_STRETCH * (yy - c[1]) * _gauss(xx, yy, c, EYE_SIGMA)
    rows, cols = np.nonzero(np.abs(fields).max(axis=(0, 1)) * SHAPE_CLIP > 0.02)
    patch = (slice(int(rows.min()), int(rows.max()) + 1), slice(int(cols.min()), int(cols.max()) + 1))
    return fields[:, :, patch[0], patch[1]].astype(np.float32), patch


def make_face(flip: bool = False, colour: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Face:
    """The astronaut's head, optionally mirrored and recoloured (a second person)."""
    rgb = _photo_head().copy()
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    (cx, cy), (ax, ay) = ELLIPSE
    r = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    alpha = np.clip((1.0 - r) / 0.08, 0.0, 1.0).astype(np.float32)
    eyes = [(x - HEAD_COLS[0], y - HEAD_ROWS[0]) for x, y in EYES_XY]
    points = {k: [(x - HEAD_COLS[0], y - HEAD_ROWS[0]) for x, y in v] for k, v in LANDMARKS_XY.items()}
    if flip:
        rgb, alpha = rgb[:, ::-1].copy(), alpha[:, ::-1].copy()
        eyes = sorted((w - 1 - x, y) for x, y in eyes)
        points = {k: [(w - 1 - x, y) for x, y in v] for k, v in points.items()}
    rgb = np.clip(rgb * np.asarray(colour, np.float32), 0, 255)
    fields, patch = expression_fields(points, h, w)
    return Face(rgb=rgb, alpha=alpha, eyes=(tuple(eyes[0]), tuple(eyes[1])), fields=fields, patch=patch)


@dataclass
class HeadMotion:
    """Per-frame pose of one face: centre (x, y) in pixels, scale, rotation in degrees."""

    cx: np.ndarray
    cy: np.ndarray
    scale: np.ndarray
    angle: np.ndarray

    def __len__(self) -> int:
        return len(self.cx)


def plan_motion(rng: np.random.Generator, n: int, fps: float, *, centre: tuple[float, float],
                scale: float, x_range: float, y_range: float, speed: np.ndarray,
                exit: tuple[float, float, int] | None = None, exit_distance: float = 0.0) -> HeadMotion:
    """A smooth head trajectory.

    `speed` (per frame, about 0-1) scales a fast jitter (kernel 0.2 s) on top of a slow drift
    (kernel 1.5 s) bounded by `x_range`/`y_range`; scale wanders by about 5%, rotation by about
    3 degrees (at most 6). `exit` = (start_s, stop_s, direction): the face slides `exit_distance`
    pixels sideways, out of the frame, in the TRANSITION_S s before start_s, and back after stop_s
    (quickly, so few frames show a partial face).
    """
    t = np.arange(n) / fps
    drift_x = x_range * np.tanh(smooth_noise(rng, n, fps, 1.5, 0.6))
    drift_y = y_range * np.tanh(smooth_noise(rng, n, fps, 1.5, 0.6))
    jitter_x = smooth_noise(rng, n, fps, 0.2, 4.0) * speed
    jitter_y = smooth_noise(rng, n, fps, 0.2, 2.5) * speed
    cx = centre[0] + drift_x + jitter_x
    cy = centre[1] + drift_y + jitter_y
    if exit is not None:
        start, stop, direction = exit
        cx = cx + direction * exit_distance * pulse(t, start, stop, TRANSITION_S)
    s = scale * (1.0 + 0.08 * np.tanh(smooth_noise(rng, n, fps, 2.0, 0.6)))
    angle = np.clip(smooth_noise(rng, n, fps, 1.5, 3.0) + 0.8 * smooth_noise(rng, n, fps, 0.25, 1.0) * speed,
                    -6.0, 6.0)
    return HeadMotion(cx=cx, cy=cy, scale=s, angle=angle)


def _forward(face: Face, cx: float, cy: float, scale: float, angle_deg: float) -> tuple[complex, complex]:
    """(A, B) of the similarity z_frame = A z_sprite + B placing the sprite's centre at (cx, cy)."""
    w, h = face.size
    a = scale * np.exp(1j * np.deg2rad(angle_deg))
    b = complex(cx, cy) - a * complex(w / 2.0, h / 2.0)
    return complex(a), complex(b)


def _pil_affine(m: complex, k: complex) -> tuple[float, ...]:
    """PIL AFFINE coefficients for the input point m*z_out + k."""
    return (m.real, -m.imag, k.real, m.imag, m.real, k.imag)


def face_shape(face: Face, valence_cue: float, arousal_cue: float) -> np.ndarray:
    """The sprite's RGB (float32, 0-255) with the expression warp of the cues (see LANDMARKS_XY's notes):
    valence moves the mouth corners up (+) / down (-), arousal raises the brows and opens the eyes.
    A backward bilinear remap of the patch only; the alpha (the head's outline) is unchanged."""
    if face.fields is None or face.patch is None:
        return face.rgb
    v = float(np.clip(valence_cue, -SHAPE_CLIP, SHAPE_CLIP))
    a = float(np.clip(arousal_cue, -SHAPE_CLIP, SHAPE_CLIP))
    d = np.float32(v) * face.fields[0] + np.float32(a) * face.fields[1]
    rows, cols = face.patch
    h, w = face.rgb.shape[:2]
    sx = np.arange(cols.start, cols.stop, dtype=np.float32)[None, :] - d[0]
    sy = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None] - d[1]
    np.clip(sx, 0.0, w - 1.001, out=sx)
    np.clip(sy, 0.0, h - 1.001, out=sy)
    x0, y0 = sx.astype(np.intp), sy.astype(np.intp)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    src = face.rgb.reshape(-1, 3)
    i = y0 * w + x0
    top = src[i] + (src[i + 1] - src[i]) * fx
    bottom = src[i + w] + (src[i + w + 1] - src[i + w]) * fx
    out = face.rgb.copy()
    out[rows, cols] = top + (bottom - top) * fy
    return out


def face_colour(face: Face, valence_cue: float, arousal_cue: float, gain: float = 1.0,
                rgb: np.ndarray | None = None) -> np.ndarray:
    """The sprite's RGB (or `rgb`, e.g. from `face_shape`) with the colour cues applied (float32, 0-255).

    Valence: brightness x(1 + 0.2 v) and a warm (+) / cool (-) tint of +-8% on red and blue.
    Arousal: saturation x(1 + 0.45 a) (greyer when calm, more vivid when aroused).
    """
    rgb = face.rgb if rgb is None else rgb
    grey = rgb.mean(axis=2, keepdims=True)
    sat = float(np.clip(1.0 + 0.45 * arousal_cue, 0.3, 1.8))
    out = grey + sat * (rgb - grey)
    v = float(np.clip(valence_cue, -1.6, 1.6))
    tint = np.asarray([1.0 + 0.08 * v, 1.0, 1.0 - 0.08 * v], np.float32)
    out *= tint * np.float32(gain * (1.0 + 0.2 * v))
    return np.clip(out, 0.0, 255.0)


def paint_face(face: Face, rgb: np.ndarray, frame_size: tuple[int, int], cx: float, cy: float,
               scale: float, angle_deg: float) -> Image.Image:
    """The sprite (with colours `rgb`) warped into a transparent RGBA image of `frame_size` (w, h)."""
    rgba = np.dstack([rgb, face.alpha * 255.0]).astype(np.uint8)
    a, b = _forward(face, cx, cy, scale, angle_deg)
    coeffs = _pil_affine(1.0 / a, -b / a)
    return Image.fromarray(rgba, "RGBA").transform(frame_size, Image.Transform.AFFINE, coeffs,
                                                   resample=Image.Resampling.BILINEAR)


def visible_box(layer: Image.Image) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the pixels at least half opaque, None when there are none."""
    return layer.getchannel("A").point(lambda v: 255 if v >= 128 else 0).getbbox()


def eye_positions(face: Face, cx: float, cy: float, scale: float, angle_deg: float) -> tuple[complex, complex]:
    """The two eye centres in frame coordinates (as complex x + iy)."""
    a, b = _forward(face, cx, cy, scale, angle_deg)
    return tuple(a * complex(x, y) + b for x, y in face.eyes)  # type: ignore[return-value]


def aligned_crop(frame: Image.Image, eyes: tuple[complex, complex], size: int = ALIGNED_SIZE) -> Image.Image:
    """The `size`-square crop with the eyes level at the ArcFace template positions."""
    q1, q2 = (complex(*p) * size / ALIGNED_SIZE for p in TEMPLATE_EYES)
    p1, p2 = eyes
    m = (p2 - p1) / (q2 - q1)
    k = p1 - m * q1
    return frame.transform((size, size), Image.Transform.AFFINE, _pil_affine(m, k),
                           resample=Image.Resampling.BILINEAR)
