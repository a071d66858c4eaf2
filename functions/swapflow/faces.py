"""The shape of a swap, defined once for every layer (the API's request, the job, the provider, the engine).

A swap takes the largest face of a *source image* onto one face (or, with `faces`, several faces) of the
*target image*; faces are numbered left to right. What an image is changes on the way: a reference the
caller sent (`str`), an object stored in our input bucket (`jobs.models.StoredImage`), a presigned URL a
provider fetches (`providers.base.ImageRef`), the bytes the engine reads (`bytes`). So `Face` and
`SwapOptions` are generic in the image. Standard library only: the engine imports it without the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

ImageT = TypeVar("ImageT")


@dataclass(frozen=True)
class Face(Generic[ImageT]):
    """One face to replace: the largest face of `source_image` onto face number `target_face` of the target."""

    source_image: ImageT
    target_face: int


@dataclass(frozen=True, kw_only=True)
class SwapOptions(Generic[ImageT]):
    """How to swap: one face (`target_index`, or the largest with `single_face_mode`), every face, or the
    pairs of `faces`; the output's format; face enhancement."""

    face_enhance: bool = False
    target_index: int | None = None
    single_face_mode: bool = True
    output_format: str = "jpeg"  # jpeg | png | webp
    faces: tuple[Face[ImageT], ...] = ()
