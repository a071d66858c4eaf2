"""What a user of the offline engine sees when swapping faces."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import pixels
from PIL import Image
from swapflow.engine import Face, SwapOptions, detect_faces, swap


def box_slice(box: tuple[int, int, int, int], grow: float = 1.0, shape: tuple[int, ...] | None = None):
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    w2, h2 = w * grow / 2, h * grow / 2
    x0, y0 = max(0, int(cx - w2)), max(0, int(cy - h2))
    x1, y1 = int(cx + w2), int(cy + h2)
    if shape is not None:
        x1, y1 = min(shape[1], x1), min(shape[0], y1)
    return slice(y0, y1), slice(x0, x1)


def outside_mask(shape: tuple[int, ...], boxes, grow: float) -> np.ndarray:
    m = np.ones(shape[:2], bool)
    for b in boxes:
        m[box_slice(b, grow, shape)] = False
    return m


@pytest.fixture(scope="module")
def target_faces(target_jpg):
    return detect_faces(target_jpg)


@pytest.fixture(scope="module")
def multi_faces(multi_jpg):
    return detect_faces(multi_jpg)


@pytest.fixture(scope="module")
def swapped_png(source_jpg, target_jpg):
    return swap(source_jpg, target_jpg, SwapOptions(output_format="png"))


def test_given_two_portraits_when_swapped_then_output_is_a_jpeg_of_the_target_size(source_jpg, target_jpg):
    out = swap(source_jpg, target_jpg)
    img = Image.open(io.BytesIO(out.data))
    assert img.format == "JPEG" and out.content_type == "image/jpeg"
    assert img.size == (512, 512) == (out.width, out.height)
    assert out.faces_swapped == 1


def test_given_two_portraits_when_swapped_then_the_face_changes_and_the_background_does_not(
    swapped_png, target_jpg, target_faces
):
    before, after = pixels(target_jpg), pixels(swapped_png.data)
    (face,) = target_faces
    inside = np.abs(after[box_slice(face.box)] - before[box_slice(face.box)]).mean()
    assert inside > 10, f"face region barely changed (mean abs diff {inside:.1f})"
    outside = outside_mask(before.shape, [face.box], 1.6)
    assert np.array_equal(after[outside], before[outside])


def test_given_jpeg_output_when_swapped_then_background_is_only_recompressed(source_jpg, target_jpg, target_faces):
    after = pixels(swap(source_jpg, target_jpg).data)
    before = pixels(target_jpg)
    outside = outside_mask(before.shape, [target_faces[0].box], 1.6)
    assert np.abs(after[outside] - before[outside]).mean() < 2.5


def test_given_swapped_face_when_redetected_then_a_face_is_still_found_in_place(swapped_png, target_faces):
    again = detect_faces(swapped_png.data)
    assert len(again) == 1
    (x, y, w, h), (x2, y2, w2, h2) = target_faces[0].box, again[0].box
    assert abs((x + w / 2) - (x2 + w2 / 2)) < 0.15 * w and abs((y + h / 2) - (y2 + h2 / 2)) < 0.15 * h


def test_given_a_group_photo_when_detected_then_faces_are_numbered_left_to_right(multi_faces):
    assert len(multi_faces) == 3
    centres = [f.box[0] + f.box[2] / 2 for f in multi_faces]
    assert centres == sorted(centres)
    # the middle face (Grace Hopper) was pasted largest
    areas = [f.box[2] * f.box[3] for f in multi_faces]
    assert max(range(3), key=areas.__getitem__) == 1
    for f in multi_faces:
        assert len(f.landmarks) == 468 and len(f.keypoints) == 5 and 0.5 <= f.score <= 1.0
        le, re, nose, ml, mr = f.keypoints
        assert le[0] < nose[0] < re[0] and ml[0] < mr[0] and nose[1] < (ml[1] + mr[1]) / 2


def changed_faces(before: np.ndarray, after: np.ndarray, faces) -> list[bool]:
    return [bool(np.abs(after[box_slice(f.box)] - before[box_slice(f.box)]).mean() > 5) for f in faces]


def test_given_target_index_when_swapped_then_only_that_face_changes(source_jpg, multi_jpg, multi_faces):
    out = swap(source_jpg, multi_jpg, SwapOptions(target_index=2, output_format="png"))
    before, after = pixels(multi_jpg), pixels(out.data)
    assert out.faces_swapped == 1
    assert changed_faces(before, after, multi_faces) == [False, False, True]
    untouched = outside_mask(before.shape, [multi_faces[2].box], 1.6)
    assert np.array_equal(after[untouched], before[untouched])


def test_given_single_face_mode_when_swapped_then_the_largest_face_changes(source_jpg, multi_jpg, multi_faces):
    out = swap(source_jpg, multi_jpg, SwapOptions(output_format="png"))
    assert out.faces_swapped == 1
    assert changed_faces(pixels(multi_jpg), pixels(out.data), multi_faces) == [False, True, False]


def test_given_all_faces_mode_when_swapped_then_every_face_changes(source_jpg, multi_jpg, multi_faces):
    out = swap(source_jpg, multi_jpg, SwapOptions(single_face_mode=False, output_format="png"))
    assert out.faces_swapped == 3
    assert changed_faces(pixels(multi_jpg), pixels(out.data), multi_faces) == [True, True, True]


def test_given_a_faces_mapping_when_swapped_then_each_mapped_face_changes(
    source_jpg, target_jpg, multi_jpg, multi_faces
):
    opts = SwapOptions(output_format="png", faces=(Face(source_image=source_jpg, target_face=0), Face(target_jpg, 2)))
    out = swap(b"", multi_jpg, opts)
    assert out.faces_swapped == 2
    assert changed_faces(pixels(multi_jpg), pixels(out.data), multi_faces) == [True, False, True]


def test_given_exif_rotated_target_when_swapped_then_output_is_upright(source_jpg, target_jpg):
    upright = Image.open(io.BytesIO(source_jpg))  # 512 x 600 portrait
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera writes: 600 x 512
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buf = io.BytesIO()
    stored.save(buf, "JPEG", quality=92, exif=exif.tobytes())
    rotated = buf.getvalue()

    ref = detect_faces(source_jpg)[0].box
    got = detect_faces(rotated)[0].box
    assert all(abs(a - b) <= 6 for a, b in zip(ref, got, strict=True)), (ref, got)
    out = swap(target_jpg, rotated)
    assert (out.width, out.height) == (512, 600)
    assert Image.open(io.BytesIO(out.data)).size == (512, 600)


def test_given_a_transparent_png_target_when_swapped_to_png_then_alpha_is_kept(source_jpg, target_jpg):
    rgb = Image.open(io.BytesIO(target_jpg)).convert("RGB")
    alpha = Image.fromarray(np.tile(np.linspace(40, 255, 512, dtype=np.uint8), (512, 1)))
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    out = swap(source_jpg, buf.getvalue(), SwapOptions(output_format="png"))
    img = Image.open(io.BytesIO(out.data))
    assert out.content_type == "image/png" and img.mode == "RGBA"
    assert np.array_equal(np.asarray(img)[:, :, 3], np.asarray(alpha))


def test_given_webp_output_when_swapped_then_a_webp_comes_back(source_jpg, target_jpg):
    out = swap(source_jpg, target_jpg, SwapOptions(output_format="webp"))
    assert out.content_type == "image/webp"
    assert Image.open(io.BytesIO(out.data)).format == "WEBP"


def laplacian_var(img: np.ndarray) -> float:
    import cv2

    grey = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def test_given_face_enhance_when_swapped_then_the_face_is_sharper_and_only_the_face_differs(
    source_jpg, target_jpg, swapped_png, target_faces
):
    sharp = pixels(swap(source_jpg, target_jpg, SwapOptions(face_enhance=True, output_format="png")).data)
    plain = pixels(swapped_png.data)
    face = box_slice(target_faces[0].box)
    assert np.abs(sharp[face] - plain[face]).mean() > 1.0
    assert laplacian_var(sharp[face]) > 1.2 * laplacian_var(plain[face])
    outside = outside_mask(plain.shape, [target_faces[0].box], 1.6)
    assert np.array_equal(sharp[outside], plain[outside])


def test_given_a_face_cut_by_the_image_border_when_swapped_then_it_still_swaps(source_jpg, target_jpg):
    buf = io.BytesIO()
    Image.open(io.BytesIO(target_jpg)).crop((205, 40, 512, 400)).save(buf, "JPEG", quality=92)
    cropped = buf.getvalue()
    (face,) = detect_faces(cropped)
    assert face.box[0] == 0  # the face runs off the left edge
    out = swap(source_jpg, cropped, SwapOptions(output_format="png"))
    assert (out.width, out.height) == (307, 360)
    before, after = pixels(cropped), pixels(out.data)
    assert np.abs(after[box_slice(face.box)] - before[box_slice(face.box)]).mean() > 10
