"""Safe image decoding (size caps before decode, EXIF orientation) and encoding."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from swapflow.engine import EngineError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000

FORMATS = {
    "jpeg": ("JPEG", "image/jpeg"),
    "jpg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "webp": ("WEBP", "image/webp"),
}


@dataclass
class Decoded:
    rgb: np.ndarray  # H x W x 3 uint8, EXIF orientation applied
    alpha: np.ndarray | None  # H x W uint8 or None


def normalise_format(fmt: str) -> str:
    key = str(fmt).strip().lower()
    if key not in FORMATS:
        raise EngineError("invalid_option", f"output_format must be jpeg, png or webp, not {fmt!r}")
    return "jpeg" if key == "jpg" else key


def decode(data: bytes, what: str = "image") -> Decoded:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EngineError("image_unreadable", f"{what}: expected bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise EngineError("image_unreadable", f"{what}: empty input")
    if len(data) > MAX_BYTES:
        raise EngineError("image_too_large", f"{what}: {len(data)} bytes exceeds the {MAX_BYTES} byte cap")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(bytes(data)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise EngineError("image_too_large", f"{what}: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise EngineError("image_unreadable", f"{what}: not a readable image ({exc})") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise EngineError("image_unreadable", f"{what}: zero-sized image")
    if width * height > MAX_PIXELS:
        raise EngineError(
            "image_too_large",
            f"{what}: {width}x{height} = {width * height} pixels exceeds the {MAX_PIXELS} pixel cap",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
            img = ImageOps.exif_transpose(img) or img
            has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
                img.mode == "P" and "transparency" in img.info
            )
            alpha = None
            if has_alpha:
                rgba = img.convert("RGBA")
                arr = np.asarray(rgba)
                rgb = np.ascontiguousarray(arr[:, :, :3])
                alpha = np.ascontiguousarray(arr[:, :, 3])
            else:
                if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                    wide = np.asarray(img, dtype=np.float64) / 256
                    img = Image.fromarray(wide.clip(0, 255).astype(np.uint8))
                # convert() copies the whole image even when it is already RGB
                rgb = np.ascontiguousarray(np.asarray(img if img.mode == "RGB" else img.convert("RGB")))
    except EngineError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise EngineError("image_too_large", f"{what}: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise EngineError("image_unreadable", f"{what}: truncated or corrupt image ({exc})") from None
    return Decoded(rgb=rgb, alpha=alpha)


def encode(rgb: np.ndarray, alpha: np.ndarray | None, fmt: str) -> tuple[bytes, str]:
    pil_format, content_type = FORMATS[fmt]
    if alpha is not None and fmt in ("png", "webp"):
        img = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    else:
        img = Image.fromarray(rgb, "RGB")
    buf = io.BytesIO()
    if pil_format == "JPEG":
        img.save(buf, "JPEG", quality=92, subsampling=0 if min(rgb.shape[:2]) < 256 else 2)
    elif pil_format == "PNG":
        img.save(buf, "PNG", compress_level=3)
    else:
        img.save(buf, "WEBP", quality=90, method=4)
    return buf.getvalue(), content_type
