"""The moving face: a real photograph (skimage's astronaut) warped onto a frame, tinted by the cues.

A `Face` is an RGBA sprite (the head cut out of the photo with a soft elliptical mask) plus the
positions of its eyes. `HeadMotion` gives, per video frame, where the face is (centre, scale,
rotation): a slow drift, a faster jitter whose amplitude follows arousal (head-motion speed), and
optionally an exit (the face leaves the frame and comes back). `paint_face` applies the visual
cues to the sprite (valence: brightness and a warm/cool tint; arousal: saturation) and warps it;
`aligned_crop` cuts the 112x112 eye-levelled crop that a face aligner would produce.
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
# ArcFace's 112x112 template: where the aligned crop puts the eyes.
TEMPLATE_EYES = ((38.29, 51.70), (73.53, 51.50))
ALIGNED_SIZE = 112


@lru_cache(maxsize=1)
def _photo_head() -> np.ndarray:
    from skimage.data import astronaut

    return astronaut()[HEAD_ROWS[0]:HEAD_ROWS[1], HEAD_COLS[0]:HEAD_COLS[1]].astype(np.float32)


@dataclass(frozen=True)
class Face:
    """An RGB head cut-out (float32, 0-255), its alpha (0-1) and eye centres (x, y), left eye first."""

    rgb: np.ndarray
    alpha: np.ndarray
    eyes: tuple[tuple[float, float], tuple[float, float]]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sprite."""
        return self.rgb.shape[1], self.rgb.shape[0]


def make_face(flip: bool = False, colour: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Face:
    """The astronaut's head, optionally mirrored and recoloured (a second person)."""
    rgb = _photo_head().copy()
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    (cx, cy), (ax, ay) = ELLIPSE
    r = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    alpha = np.clip((1.0 - r) / 0.08, 0.0, 1.0).astype(np.float32)
    eyes = [(x - HEAD_COLS[0], y - HEAD_ROWS[0]) for x, y in EYES_XY]
    if flip:
        rgb, alpha = rgb[:, ::-1].copy(), alpha[:, ::-1].copy()
        eyes = sorted((w - 1 - x, y) for x, y in eyes)
    rgb = np.clip(rgb * np.asarray(colour, np.float32), 0, 255)
    return Face(rgb=rgb, alpha=alpha, eyes=(tuple(eyes[0]), tuple(eyes[1])))


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


def face_colour(face: Face, valence_cue: float, arousal_cue: float, gain: float = 1.0) -> np.ndarray:
    """The sprite's RGB with the visual cues applied (float32, 0-255).

    Valence: brightness x(1 + 0.2 v) and a warm (+) / cool (-) tint of +-8% on red and blue.
    Arousal: saturation x(1 + 0.45 a) (greyer when calm, more vivid when aroused).
    """
    rgb = face.rgb
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
