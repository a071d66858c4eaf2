"""Bad inputs give a clear EngineError with a stable code."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from swapflow.engine import EngineError, Face, SwapOptions, detect_faces, swap


def png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(EngineError) as info:
        fn(*args, **kwargs)
    assert info.value.message and info.value.code in str(info.value)
    return info.value.code


def test_given_text_bytes_when_used_as_either_image_then_image_unreadable(source_jpg, target_jpg):
    text = b"hello, this is definitely not an image\n" * 10
    assert code_of(swap, text, target_jpg) == "image_unreadable"
    assert code_of(swap, source_jpg, text) == "image_unreadable"
    assert code_of(detect_faces, text) == "image_unreadable"
    assert code_of(detect_faces, b"") == "image_unreadable"


def test_given_a_truncated_jpeg_when_swapped_then_image_unreadable(source_jpg, target_jpg):
    assert code_of(swap, source_jpg, target_jpg[: len(target_jpg) // 3]) == "image_unreadable"
    assert code_of(swap, source_jpg[:400], target_jpg) == "image_unreadable"


def test_given_a_png_header_claiming_20000_square_when_swapped_then_image_too_large(source_jpg):
    bomb = png_header_claiming(20000, 20000)
    assert len(bomb) < 200
    assert code_of(swap, source_jpg, bomb) == "image_too_large"
    assert code_of(detect_faces, bomb) == "image_too_large"


def test_given_a_png_just_over_the_pixel_cap_when_detected_then_image_too_large():
    # 8000 x 5001 = 40.008 MP: below Pillow's own bomb limit, above the engine's 40 MP cap
    assert code_of(detect_faces, png_header_claiming(8000, 5001)) == "image_too_large"


def test_given_more_than_20_mb_when_swapped_then_image_too_large(source_jpg):
    assert code_of(swap, source_jpg, b"\xff\xd8" + b"\0" * (20 * 1024 * 1024)) == "image_too_large"


def test_given_no_face_in_the_source_when_swapped_then_no_face_in_source(noface_jpg, target_jpg):
    assert code_of(swap, noface_jpg, target_jpg) == "no_face_in_source"


def test_given_no_face_in_the_target_when_swapped_then_no_face_in_target(source_jpg, noface_jpg):
    assert code_of(swap, source_jpg, noface_jpg) == "no_face_in_target"
    assert detect_faces(noface_jpg) == []


def test_given_index_7_on_a_one_face_image_when_swapped_then_target_index_out_of_range(source_jpg, target_jpg):
    assert code_of(swap, source_jpg, target_jpg, SwapOptions(target_index=7)) == "target_index_out_of_range"
    assert code_of(swap, source_jpg, target_jpg, SwapOptions(target_index=-1)) == "target_index_out_of_range"
    opts = SwapOptions(faces=(Face(source_jpg, 3),))
    assert code_of(swap, source_jpg, target_jpg, opts) == "target_index_out_of_range"


def test_given_an_unknown_output_format_when_swapped_then_invalid_option(source_jpg, target_jpg):
    assert code_of(swap, source_jpg, target_jpg, SwapOptions(output_format="gif")) == "invalid_option"


def test_given_a_tiny_valid_image_without_face_when_detected_then_empty_list():
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), (10, 20, 30)).save(buf, "PNG")
    assert detect_faces(buf.getvalue()) == []
