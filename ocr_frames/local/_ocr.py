"""The OCR core: rapidocr's PP-OCR models (shipped inside the ``rapidocr`` wheel) on
onnxruntime, loaded once per process, lazily, behind a lock.

Nothing here downloads anything: the detector, recogniser and text-line classifier
models are passed to rapidocr by explicit path inside the installed package, and the
recogniser's character table is read from the model's own metadata, so rapidocr's
download code is never reached (``tests/local/test_engine.py`` checks that no socket is
opened while the models load).  Importing this module imports neither rapidocr nor
onnxruntime; :func:`get_core` does, the first time it is called.

One :class:`OCRCore` holds ``workers`` rapidocr pipelines, each with ``threads``
onnxruntime intra-op threads; a call borrows a free pipeline, so at most ``workers``
images are in the models at once (rapidocr pipelines keep per-call state, so one
pipeline never serves two threads at the same time).
"""

from __future__ import annotations

import io
import logging
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata, util
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr_frames._errors import ConfigurationError
from ocr_frames.local._chars import Char, keep_candidates
from ocr_frames.local._geometry import Centred, Quad
from ocr_frames.local._orient import quarter_turns

log = logging.getLogger("ocr_frames.local")

__all__ = [
    "DET_LIMIT",
    "DET_MIN",
    "DET_SCALE",
    "MODEL_FILES",
    "OCRCore",
    "TextBox",
    "decode_image",
    "decode_sized",
    "get_core",
    "model_id",
    "models_dir",
    "rapidocr_version",
]

#: The model files used, all shipped in the rapidocr wheel (3.x).
MODEL_FILES: Final = {
    "det": "PP-OCRv6_det_small.onnx",
    "rec": "PP-OCRv6_rec_small.onnx",
    "cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}
#: The text detector sees the image at DET_SCALE of its size, its longer side kept
#: between DET_MIN and ``det_limit`` (DET_LIMIT by default) pixels: card photos of about
#: 1000 px are detected at 736 px, wide two-page photos at 960 (their print is smaller).
DET_LIMIT: Final = 960
DET_MIN: Final = 736
DET_SCALE: Final = 0.72
#: Detected boxes whose mean text probability is below this are dropped.
DET_BOX_THRESH: Final = 0.3
#: Recognised lines scoring below this are dropped.
MIN_SCORE: Final = 0.5
#: Images larger than this (either side) are scaled down before anything else.
MAX_SIDE: Final = 2400


@dataclass(frozen=True, slots=True)
class TextBox(Centred):
    """One recognised line: its text, its quadrilateral (lt, rt, rb, lb) and its score;
    ``chars``: per character of ``text``, what the recogniser made of it (see
    :mod:`._chars`), empty for a line the layouts built themselves."""

    text: str
    quad: Quad
    score: float
    chars: tuple[Char, ...] = ()

    @property
    def left(self) -> float:
        return min(p[0] for p in self.quad)

    @property
    def right(self) -> float:
        return max(p[0] for p in self.quad)

    @property
    def top(self) -> float:
        return min(p[1] for p in self.quad)

    @property
    def bottom(self) -> float:
        return max(p[1] for p in self.quad)

    @property
    def height(self) -> float:
        return self.bottom - self.top


def models_dir() -> Path:
    """The ``models`` folder inside the installed rapidocr package (not imported)."""
    found = util.find_spec("rapidocr")
    if found is None or not found.submodule_search_locations:
        raise ConfigurationError(
            "the local engine needs rapidocr and onnxruntime: pip install 'ocr-frames[local]'"
        )
    return Path(next(iter(found.submodule_search_locations))) / "models"


def rapidocr_version() -> str:
    """The installed rapidocr version, read from its metadata (nothing imported)."""
    try:
        return metadata.version("rapidocr")
    except metadata.PackageNotFoundError:
        return "missing"


def model_id() -> str:
    """Names of the detector and recogniser models (what the answers depend on)."""
    return "+".join(Path(MODEL_FILES[k]).stem for k in ("det", "rec"))


def decode_image(data: bytes) -> np.ndarray | None:
    """Image bytes → BGR uint8 array (EXIF orientation applied, at most :data:`MAX_SIDE`
    pixels a side), or None if undecodable."""
    return decode_sized(data)[0]


def decode_sized(data: bytes) -> tuple[np.ndarray | None, tuple[int, int]]:
    """:func:`decode_image`, and the size (width, height) of the image as decoded before
    it was scaled down to :data:`MAX_SIDE` (positions are reported in that size)."""
    import cv2

    array = np.frombuffer(data, np.uint8)
    image: np.ndarray | None = cv2.imdecode(array, cv2.IMREAD_COLOR) if data else None
    if image is None and data:
        image = _decode_with_pillow(data)  # GIF, and anything else OpenCV lacks
    if image is None or image.ndim != 3 or min(image.shape[:2]) < 8:
        return None, (0, 0)
    full = (int(image.shape[1]), int(image.shape[0]))
    scale = MAX_SIDE / max(image.shape[:2])
    if scale < 1:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return image, full


def _decode_with_pillow(data: bytes) -> np.ndarray | None:
    try:
        with Image.open(io.BytesIO(data)) as pil:
            rgb = np.asarray(ImageOps.exif_transpose(pil).convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return np.ascontiguousarray(rgb[:, :, ::-1])


class OCRCore:
    """``workers`` rapidocr pipelines sharing nothing; :meth:`read` is thread-safe."""

    def __init__(self, *, workers: int = 1, threads: int = 0, det_limit: int = DET_LIMIT) -> None:
        self.workers = max(1, workers)
        self.det_limit = det_limit
        cpus = os.cpu_count() or 1
        self.threads = threads if threads > 0 else max(1, cpus // self.workers)
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._made = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        """``workers`` long-lived threads to run :meth:`read` in.  They live as long as the
        models: a new thread per call would make glibc hand each one a fresh malloc arena,
        and RSS would grow by hundreds of MB over a long run."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="ocr-local")
            return self._executor

    @cached_property
    def _params(self) -> dict[str, Any]:
        folder = models_dir()
        return {
            "Global.log_level": "error",
            "Global.use_cls": False,  # pages are turned upright whole (read_upright)
            "Global.text_score": 0.0,  # every detected line counts for the orientation
            "Global.model_root_dir": str(folder),
            "Det.model_path": str(folder / MODEL_FILES["det"]),
            "Rec.model_path": str(folder / MODEL_FILES["rec"]),
            "Cls.model_path": str(folder / MODEL_FILES["cls"]),
            "Det.limit_type": "max",
            "Det.limit_side_len": self.det_limit,
            # rapidocr's 0.5 drops a letter standing alone (the 类 of a spaced 类    型)
            "Det.box_thresh": DET_BOX_THRESH,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }

    def _borrow(self) -> Any:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            make = self._made < self.workers
            if make:
                self._made += 1
        if not make:
            return self._free.get()
        try:
            return self._new_pipeline()
        except BaseException:
            with self._lock:
                self._made -= 1
            raise

    def _new_pipeline(self) -> Any:
        import onnxruntime

        onnxruntime.disable_telemetry_events()  # a no-op off Windows; never phone home
        onnxruntime.set_default_logger_severity(3)
        _tune_sessions()
        from rapidocr import RapidOCR

        pipeline = RapidOCR(params=self._params)
        # load the models now (rapidocr loads them at first use) so timings stay honest
        pipeline(np.full((64, 256, 3), 255, np.uint8))
        if not keep_candidates(pipeline):
            log.warning("this rapidocr hides per-character scores: no field confidence")
        _classifier(pipeline)  # loads it (rapidocr loads it at first use)
        return pipeline

    def warm_up(self) -> None:
        """Load the models now rather than at the first image."""
        self._free.put(self._borrow())

    def detector_side(self, image: np.ndarray) -> int:
        """The longer side, in pixels, of the detector's copy of ``image``."""
        wanted = round(DET_SCALE * int(max(image.shape[:2])))
        return max(min(DET_MIN, self.det_limit), min(self.det_limit, wanted))

    def read(self, image: np.ndarray) -> list[TextBox]:
        """Every text line found in a BGR image, in rapidocr's (top-down) order."""
        return self.read_upright(image, turn=False)[2]

    def read_upright(
        self, image: np.ndarray, *, turn: bool = True
    ) -> tuple[int, np.ndarray, list[TextBox]]:
        """The text lines of ``image`` read upright: the quarter turns (``numpy.rot90``)
        that made it upright (see :mod:`._orient`), the turned image, and its lines.  An
        upright page costs one classifier call on a few lines; a turned one is read
        twice."""
        pipeline = self._borrow()
        try:
            lines = self._lines(pipeline, image)
            turns = (
                quarter_turns(image, [b.quad for b in lines], _classifier(pipeline)) if turn else 0
            )
            if turns:
                image = np.ascontiguousarray(np.rot90(image, turns))
                lines = self._lines(pipeline, image)
        finally:
            self._free.put(pipeline)
        return turns, image, [box for box in lines if box.text and box.score >= MIN_SCORE]

    def _lines(self, pipeline: Any, image: np.ndarray) -> list[TextBox]:
        detector = getattr(pipeline, "text_det", None)  # loaded by _new_pipeline
        if detector is not None and hasattr(detector, "limit_side_len"):
            # read by rapidocr at every call; this pipeline is ours until it is put back
            detector.limit_side_len = self.detector_side(image)
        result = pipeline(image)
        boxes = getattr(result, "boxes", None)
        if boxes is None:
            return []
        out = []
        for quad, text, score in zip(boxes, result.txts, result.scores, strict=True):
            points = tuple((float(x), float(y)) for x, y in np.asarray(quad)[:4])
            plain = str(text)
            stripped = plain.strip()
            chars: tuple[Char, ...] = getattr(text, "chars", ())
            if chars:
                start = len(plain) - len(plain.lstrip())
                chars = chars[start : start + len(stripped)]
            out.append(TextBox(stripped, points, float(score), chars))  # type: ignore[arg-type]
        return out


def _classifier(pipeline: Any) -> Any:
    """rapidocr's text-line classifier of ``pipeline``, as :mod:`._orient` calls it."""
    load: Any = pipeline._load_cls_model
    model = load()
    return lambda crops: model(crops).cls_res


_CORES_LOCK = threading.Lock()
_TUNED = threading.Event()


def _tune_sessions() -> None:
    """Make rapidocr's onnxruntime sessions cheaper on a small shared machine.

    rapidocr builds its ``SessionOptions`` in one static method and offers no setting for
    these two, so that method is wrapped (once per process): threads that wait for work
    sleep instead of spinning (spinning burns the other workers' CPU), and no memory plan
    is kept per input shape (every image has another shape).  On the bundled samples
    this cut CPU time by a fifth and peak RSS by 170 MB.
    """
    with _CORES_LOCK:
        if _TUNED.is_set():
            return
        try:
            from rapidocr.inference_engine.onnxruntime.main import OrtInferSession
        except ImportError:  # pragma: no cover - another rapidocr layout: keep its defaults
            return
        original = OrtInferSession.__dict__.get("_init_sess_opts")
        if isinstance(original, staticmethod):
            build = original.__func__

            def tuned(cfg: Any) -> Any:
                options = build(cfg)
                options.enable_mem_pattern = False
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                return options

            OrtInferSession._init_sess_opts = staticmethod(tuned)  # type: ignore[method-assign]
        _TUNED.set()


_CORES: dict[tuple[int, int, int], OCRCore] = {}


def get_core(*, workers: int = 1, threads: int = 0, det_limit: int = DET_LIMIT) -> OCRCore:
    """The process-wide core for this configuration (models are loaded once per process:
    each pipeline costs ~100 MB and a second to load)."""
    key = (workers, threads, det_limit)
    with _CORES_LOCK:
        core = _CORES.get(key)
        if core is None:
            if not _CORES:
                _warn_malloc_trim()
            core = _CORES[key] = OCRCore(workers=workers, threads=threads, det_limit=det_limit)
        return core


def _warn_malloc_trim() -> None:
    """Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which makes the
    models about 1.5x slower; say so once per process, with the fix."""
    value = os.environ.get("MALLOC_TRIM_THRESHOLD_", "")
    if value.isdigit() and int(value) < 1 << 20:
        log.warning(
            "MALLOC_TRIM_THRESHOLD_=%s slows the local engine (~1.5x per image); on Dask, "
            "start the workers without it: dask.config.set({'distributed.nanny."
            "pre-spawn-environ.MALLOC_TRIM_THRESHOLD_': None})",
            value,
        )
