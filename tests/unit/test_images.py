"""Unit tests of swapflow.images: sniffing, caps, full decode and data: URIs."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from typing import Any
from urllib.parse import quote

import pytest
from PIL import Image
from swapflow.images import ImageError, ImageInfo, parse_data_uri, sniff, verify


def encode(fmt: str, size: tuple[int, int] = (37, 23), mode: str = "RGB", **options: Any) -> bytes:
    image = Image.new(mode, size, (200, 120, 40) if mode == "RGB" else (200, 120, 40, 128))
    for x in range(0, size[0], 3):  # some structure, so the codecs do real work
        image.putpixel((x, x % size[1]), (0, 0, 0) if mode == "RGB" else (0, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(ctype + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", crc)


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)


CASES = [
    ("JPEG", {}, "jpeg", "image/jpeg"),
    ("JPEG", {"progressive": True}, "jpeg", "image/jpeg"),
    ("PNG", {}, "png", "image/png"),
    ("WEBP", {"quality": 80}, "webp", "image/webp"),  # lossy: VP8
    ("WEBP", {"lossless": True}, "webp", "image/webp"),  # lossless: VP8L
]


@pytest.mark.parametrize(("pil_format", "options", "fmt", "content_type"), CASES)
def test_given_real_image_when_sniffed_and_verified_then_format_and_size_reported(
    pil_format: str, options: dict[str, Any], fmt: str, content_type: str
) -> None:
    data = encode(pil_format, **options)
    expected = ImageInfo(format=fmt, content_type=content_type, width=37, height=23)
    assert sniff(data) == expected
    assert verify(data) == expected


def test_given_webp_with_alpha_when_sniffed_then_extended_header_read() -> None:
    data = encode("WEBP", mode="RGBA", quality=80)
    assert data[12:16] == b"VP8X"  # lossy with alpha uses the extended format
    assert sniff(data) == ImageInfo("webp", "image/webp", 37, 23)
    assert verify(data).width == 37


def test_given_jpeg_with_exif_and_odd_size_when_sniffed_then_sof_found_past_app_segments() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode("JPEG", size=(1001, 3), exif=exif.tobytes())
    assert sniff(data) == ImageInfo("jpeg", "image/jpeg", 1001, 3)


def test_given_truncated_jpeg_when_verified_then_invalid_image() -> None:
    data = encode("JPEG", size=(200, 150), quality=95)
    truncated = data[: len(data) // 2]
    assert sniff(truncated).width == 200  # the header is intact ...
    with pytest.raises(ImageError) as err:  # ... but the scan data is not
        verify(truncated)
    assert err.value.code == "invalid_image"


def test_given_corrupt_png_data_when_verified_then_invalid_image() -> None:
    data = bytearray(encode("PNG", size=(64, 64)))
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 30] = b"\xff" * 20
    with pytest.raises(ImageError) as err:
        verify(bytes(data))
    assert err.value.code == "invalid_image"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, this is plainly text and not an image at all",
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00",
        b"BM" + b"\x00" * 60,
        b"RIFF\x10\x00\x00\x00WAVEfmt ",
        b"\xff\xd8",  # JPEG SOI only
        b"\xff\xd8\xff\xd9",  # SOI, EOI
        b"\xff\xd8\xff\xe0\x00\x10JFIF",  # truncated inside APP0
        b"\xff\xd8\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00",  # scan before frame
        b"\x89PNG\r\n\x1a\n",  # signature only
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", b"a\x00b"),  # IHDR not first
        png_header(0, 10),
        b"RIFF\x20\x00\x00\x00WEBPVP8 ",  # truncated WebP
        b"RIFF\x20\x00\x00\x00WEBPABCD" + b"\x00" * 20,  # unknown WebP chunk
        b"",
    ],
)
def test_given_non_image_or_broken_header_when_sniffed_then_invalid_image(data: bytes) -> None:
    with pytest.raises(ImageError) as err:
        sniff(data)
    assert err.value.code == "invalid_image"


def test_given_text_when_verified_then_invalid_image() -> None:
    with pytest.raises(ImageError) as err:
        verify(b"definitely not an image")
    assert err.value.code == "invalid_image"


def test_given_png_header_claiming_huge_size_when_sniffed_then_too_large_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the pixel cap must hold before Pillow sees the data")

    monkeypatch.setattr(Image, "open", no_decoding)
    data = png_header(50_000, 50_000) + png_chunk(b"IEND", b"")
    with pytest.raises(ImageError) as err:
        sniff(data)
    assert err.value.code == "image_too_large"
    assert "50000x50000" in err.value.message
    with pytest.raises(ImageError) as err:
        verify(data)
    assert err.value.code == "image_too_large"


def test_given_image_over_custom_pixel_cap_when_sniffed_then_too_large() -> None:
    data = encode("WEBP", size=(100, 100), lossless=True)
    assert sniff(data, max_pixels=10_000).width == 100
    with pytest.raises(ImageError) as err:
        sniff(data, max_pixels=9_999)
    assert err.value.code == "image_too_large"


def test_given_webp_extended_header_claiming_huge_canvas_when_sniffed_then_too_large() -> None:
    payload = b"\x00\x00\x00\x00" + (16383).to_bytes(3, "little") + (16383).to_bytes(3, "little")
    data = b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBPVP8X" + struct.pack("<I", 10) + payload
    with pytest.raises(ImageError) as err:
        sniff(data)
    assert err.value.code == "image_too_large"


def test_given_jpeg_header_claiming_huge_size_when_sniffed_then_too_large() -> None:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65_000, 65_000, 1) + b"\x01\x11\x00"
    with pytest.raises(ImageError) as err:
        sniff(b"\xff\xd8" + sof + b"\xff\xd9")
    assert err.value.code == "image_too_large"


def test_given_bytes_over_cap_when_sniffed_then_too_large() -> None:
    data = encode("PNG")
    with pytest.raises(ImageError) as err:
        sniff(data, max_bytes=len(data) - 1)
    assert err.value.code == "image_too_large"
    assert sniff(data, max_bytes=len(data)).format == "png"


def test_given_forged_header_size_when_verified_then_invalid_image() -> None:
    data = bytearray(encode("PNG", size=(20, 10)))
    data[16:24] = struct.pack(">II", 20, 11)  # forge IHDR (and break its CRC)
    with pytest.raises(ImageError) as err:
        verify(bytes(data))
    assert err.value.code == "invalid_image"


# ------------------------------------------------------------------------------------------------
# data: URIs


def test_given_base64_data_uri_when_parsed_then_round_trips() -> None:
    data = encode("PNG")
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    assert parse_data_uri(uri) == (data, "image/png")
    assert verify(parse_data_uri(uri)[0]).format == "png"


def test_given_data_uri_variants_when_parsed_then_decoded() -> None:
    data = encode("JPEG")
    b64 = base64.b64encode(data).decode()
    assert parse_data_uri("DATA:Image/JPEG;charset=x;BASE64," + b64) == (data, "image/jpeg")
    assert parse_data_uri("data:;base64," + b64) == (data, None)
    assert parse_data_uri("data:image/jpeg;base64," + b64.rstrip("=")) == (data, "image/jpeg")
    assert parse_data_uri("data:image/jpeg;base64," + quote(b64, safe="")) == (data, "image/jpeg")
    wrapped = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    assert parse_data_uri("data:image/jpeg;base64," + wrapped)[0] == data
    assert parse_data_uri("data:," + quote(b"\xff\xd8\xffraw", safe="")) == (b"\xff\xd8\xffraw", None)


@pytest.mark.parametrize(
    "uri",
    [
        "https://example.com/a.png",
        "data:image/png;base64",  # no comma
        "data:image/png;base64,",  # empty
        "data:image/png;base64,!!!notbase64!!!",
        "data:image/png;base64,QUJDRA=X",
        "data:image/png;base64,QUJDR",  # impossible length
        "data:image png;base64,QUJD",
        "data:image/;base64,QUJD",
        "data:image/png,caf\u00e9",
        "",
    ],
)
def test_given_malformed_data_uri_when_parsed_then_invalid_image(uri: str) -> None:
    with pytest.raises(ImageError) as err:
        parse_data_uri(uri)
    assert err.value.code == "invalid_image"


def test_given_data_uri_over_cap_when_parsed_then_too_large() -> None:
    data = b"\x00" * 3000
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    assert parse_data_uri(uri, max_bytes=3000)[0] == data
    with pytest.raises(ImageError) as err:
        parse_data_uri(uri, max_bytes=2999)
    assert err.value.code == "image_too_large"
    with pytest.raises(ImageError) as err:
        parse_data_uri("data:," + "a" * 5000, max_bytes=100)
    assert err.value.code == "image_too_large"


def _encoded(image: Any, fmt: str) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def test_GIVEN_a_jpeg_output_WHEN_png_was_asked_THEN_it_is_converted_and_the_note_says_so() -> None:
    from swapflow.images import conform

    data = _encoded(Image.new("RGB", (40, 30), (200, 10, 10)), "JPEG")
    converted, info, note = conform(data, sniff(data), "png")

    assert converted.startswith(b"\x89PNG") and info == ImageInfo("png", "image/png", 40, 30)
    assert note == "the provider returned JPEG; converted to PNG as asked"
    assert conform(converted, info, "png") == (converted, info, None)  # already as asked: untouched


def test_GIVEN_a_transparent_png_WHEN_jpeg_is_asked_THEN_it_is_flattened_on_white_not_black() -> None:
    from swapflow.images import FLATTENED_NOTE, conform, has_alpha

    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (5, 5, 15, 15))
    data = _encoded(image, "PNG")
    converted, info, note = conform(data, sniff(data), "jpeg")

    assert has_alpha(data) and not has_alpha(converted)
    flat = Image.open(io.BytesIO(converted)).convert("RGB")
    assert info.content_type == "image/jpeg" and note == FLATTENED_NOTE
    assert min(flat.getpixel((1, 1))) > 245  # was transparent: now white
    blue = flat.getpixel((10, 10))
    assert blue[2] > 200 and blue[0] < 60
