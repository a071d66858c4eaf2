"""Input image checks: magic bytes, header dimensions, caps, and a full decode.

`sniff` is pure Python: it recognises JPEG, PNG and WebP by their magic bytes and reads the dimensions
from the header (JPEG SOF marker, PNG IHDR, WebP VP8/VP8L/VP8X), so the byte and pixel caps are
enforced before any decoder sees the data. `verify` then decodes the whole image with Pillow (imported
lazily: only the functions that verify need it) to catch truncated or corrupt files.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "ImageError",
    "ImageInfo",
    "parse_data_uri",
    "sniff",
    "verify",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000

CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}  # content type -> file name
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but don't.
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field: TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})


@dataclass(frozen=True)
class ImageInfo:
    format: str  # "jpeg" | "png" | "webp"
    content_type: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


class ImageError(Exception):
    """An input image we refuse. `code` is ``invalid_image`` or ``image_too_large``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ImageError({self.code!r}, {self.message!r})"


def _invalid(message: str) -> ImageError:
    return ImageError("invalid_image", message)


# --------------------------------------------------------------------------------------------------
# Header parsing (pure Python)


def _png_size(data: bytes) -> tuple[int, int]:
    # Signature, then the first chunk must be IHDR: length 13, type, width, height (big-endian).
    if len(data) < 8 + 8 + 8:
        raise _invalid("truncated PNG header")
    length, ctype = struct.unpack(">I4s", data[8:16])
    if ctype != b"IHDR" or length != 13:
        raise _invalid("PNG without an IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2  # after SOI (FF D8)
    end = len(data)
    while pos < end:
        if data[pos] != 0xFF:
            raise _invalid("corrupt JPEG: expected a marker")
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == 0xD9:
            raise _invalid("JPEG ends before a frame header")
        if marker == 0xDA:
            raise _invalid("JPEG scan data before a frame header")
        if pos + 2 > end:
            break
        (seglen,) = struct.unpack(">H", data[pos : pos + 2])
        if seglen < 2:
            raise _invalid("corrupt JPEG segment length")
        if marker in _JPEG_SOF:
            if pos + 7 > end or seglen < 8:
                break
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            if height == 0:
                raise _invalid("unsupported JPEG: height defined after the first scan (DNL)")
            return width, height
        pos += seglen
    raise _invalid("truncated JPEG header")


def _webp_size(data: bytes) -> tuple[int, int]:
    if len(data) < 30:
        raise _invalid("truncated WebP header")
    fourcc = data[12:16]
    payload = data[20:]
    if fourcc == b"VP8 ":
        # Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height (little-endian).
        if payload[3:6] != b"\x9d\x01\x2a":
            raise _invalid("corrupt WebP (VP8) header")
        width, height = struct.unpack("<HH", payload[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if fourcc == b"VP8L":
        # Lossless: signature 0x2F, then width-1 and height-1 as 14-bit fields.
        if payload[0] != 0x2F:
            raise _invalid("corrupt WebP (VP8L) header")
        b1, b2, b3, b4 = payload[1:5]
        width = 1 + (b1 | ((b2 & 0x3F) << 8))
        height = 1 + ((b2 >> 6) | (b3 << 2) | ((b4 & 0x0F) << 10))
        return width, height
    if fourcc == b"VP8X":
        # Extended: flags (1), reserved (3), canvas width-1 and height-1 as 24-bit little-endian.
        width = 1 + int.from_bytes(payload[4:7], "little")
        height = 1 + int.from_bytes(payload[7:10], "little")
        return width, height
    raise _invalid("unsupported WebP variant")


def _detect(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_PNG_MAGIC):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    raise _invalid("not a JPEG, PNG or WebP image")


def sniff(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES) -> ImageInfo:
    """Identify `data` by magic bytes and header; enforce the byte and pixel caps. Decodes nothing.

    Raises `ImageError`: ``image_too_large`` over a cap, ``invalid_image`` otherwise.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _invalid("image data must be bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise ImageError("image_too_large", f"the image is {len(data)} bytes, over the {max_bytes}-byte limit")
    if not data:
        raise _invalid("the image is empty")
    fmt = _detect(data)
    try:
        width, height = {"jpeg": _jpeg_size, "png": _png_size, "webp": _webp_size}[fmt](data)
    except (struct.error, IndexError, ValueError):
        raise _invalid(f"truncated {fmt.upper()} header") from None
    if width <= 0 or height <= 0:
        raise _invalid(f"{fmt.upper()} header has an empty size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            "image_too_large",
            f"the image is {width}x{height} ({width * height} pixels), over the {max_pixels}-pixel limit",
        )
    return ImageInfo(format=fmt, content_type=CONTENT_TYPES[fmt], width=width, height=height)


# --------------------------------------------------------------------------------------------------
# Full decode (Pillow)


def verify(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES) -> ImageInfo:
    """`sniff`, then decode the whole image with Pillow to catch truncated or corrupt files.

    Pillow only ever sees data whose header passed the caps; its own bomb check is set from the cap.
    """
    info = sniff(data, max_pixels=max_pixels, max_bytes=max_bytes)
    from PIL import Image  # lazy: only the functions that verify images carry Pillow

    Image.MAX_IMAGE_PIXELS = max_pixels
    image: Any = None
    try:
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[info.format]])
        size = tuple(image.size)
        if image.width * image.height > max_pixels:
            raise ImageError("image_too_large", f"the image is {image.width}x{image.height}, over the cap")
        image.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("image_too_large", str(exc)) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, ...
        raise _invalid(f"the {info.format.upper()} image does not decode: {exc}") from None
    finally:
        if image is not None:
            image.close()
    if size != (info.width, info.height):
        raise _invalid(
            f"the {info.format.upper()} header says {info.width}x{info.height} but it decodes as {size[0]}x{size[1]}"
        )
    return info


# --------------------------------------------------------------------------------------------------
# data: URIs


def parse_data_uri(uri: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[bytes, str | None]:
    """Decode ``data:[<mediatype>][;base64],<data>``; return the bytes and the media type (or None).

    The media type is lowercased and stripped of parameters. Raises `ImageError`: ``invalid_image``
    for a malformed URI, ``image_too_large`` when the decoded data would exceed `max_bytes`.
    """
    if not isinstance(uri, str) or uri[:5].lower() != "data:":
        raise _invalid("not a data: URI")
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise _invalid("malformed data: URI (no comma)")
    params = [p.strip() for p in header.split(";")]
    is_base64 = len(params) > 1 and params[-1].lower() == "base64"
    if is_base64:
        params = params[:-1]
    media = params[0].lower() if params else ""
    media_type: str | None = None
    if media:
        kind, slash, sub = media.partition("/")
        if not slash or not kind or not sub or any(c.isspace() for c in media):
            raise _invalid(f"malformed data: URI media type '{params[0]}'")
        media_type = media
    # Cheap size check before decoding anything: base64 takes 4 characters for 3 bytes, and
    # percent-encoding at most 3 characters for one (generous: the exact checks follow).
    encoded_max = (max_bytes + 2) // 3 * 4 if is_base64 else max_bytes
    if len(payload) > 3 * encoded_max + 1024:
        raise ImageError("image_too_large", f"the data: URI is over the {max_bytes}-byte limit")
    try:
        raw = unquote_to_bytes(payload) if "%" in payload else payload.encode("ascii")
    except UnicodeEncodeError:
        raise _invalid("malformed data: URI (non-ASCII data)") from None
    if is_base64:
        compact = b"".join(raw.split())  # whitespace is allowed (and ignored) in base64 data
        if len(compact) % 4 == 1:
            raise _invalid("malformed data: URI (bad base64 length)")
        compact += b"=" * (-len(compact) % 4)
        if len(compact) * 3 // 4 > max_bytes + 2:
            raise ImageError("image_too_large", f"the data: URI is over the {max_bytes}-byte limit")
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("malformed data: URI (invalid base64)") from None
    else:
        data = raw
    if not data:
        raise _invalid("the data: URI is empty")
    if len(data) > max_bytes:
        raise ImageError("image_too_large", f"the data: URI holds {len(data)} bytes, over the {max_bytes}-byte limit")
    return data, media_type


# --------------------------------------------------------------------------------------------------
# Output formats (Pillow)

FLATTENED_NOTE = "JPEG has no transparency: the transparent areas were flattened on white"


def has_alpha(data: bytes) -> bool:
    """Whether the image has an alpha channel (read from its header; nothing is decoded)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def conform(data: bytes, info: ImageInfo, fmt: str) -> tuple[bytes, ImageInfo, str | None]:
    """The output in the asked format `fmt` (jpeg|png|webp), with a note when it had to be converted.

    Providers may answer in another format than asked (Akool returns JPEG when PNG was asked): the
    output is converted, never silently left as it came. An image with transparency becomes a JPEG
    flattened on white (a plain RGB conversion would turn transparent areas black).
    """
    if info.format == fmt:
        return data, info, None
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        note = f"the provider returned {info.format.upper()}; converted to {fmt.upper()} as asked"
        if fmt == "jpeg" and (image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info):
            rgba = image.convert("RGBA")
            lowest: Any = rgba.getchannel("A").getextrema()[0]
            if lowest < 255:
                note = FLATTENED_NOTE
            white = Image.new("RGB", rgba.size, (255, 255, 255))
            white.paste(rgba, mask=rgba.getchannel("A"))
            converted: Any = white
        else:
            converted = image.convert("RGB" if fmt == "jpeg" else "RGBA" if "A" in image.mode else "RGB")
        out = io.BytesIO()
        options: dict[str, Any] = {"quality": 92} if fmt == "jpeg" else {"quality": 90} if fmt == "webp" else {}
        converted.save(out, _PIL_FORMATS[fmt], **options)
    result = out.getvalue()
    return result, ImageInfo(fmt, CONTENT_TYPES[fmt], info.width, info.height), note
