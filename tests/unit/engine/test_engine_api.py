"""Package surface: cheap import, Akool detect_faces response shape."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import swapflow.engine
from swapflow.engine import EngineError, akool_detect_response, detect_faces

PAIR = re.compile(r"^-?\d+,-?\d+$")


def test_given_a_fresh_interpreter_when_engine_is_imported_then_cv2_and_numpy_are_not():
    functions = str(Path(swapflow.engine.__file__).resolve().parents[2])
    code = (
        f"import sys; sys.path.insert(0, {functions!r}); import swapflow.engine as e; "
        "assert e.swap and e.SwapOptions; print('cv2' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_given_an_engine_error_when_inspected_then_code_and_message_are_kept():
    err = EngineError("no_face_in_source", "nothing there")
    assert (err.code, err.message) == ("no_face_in_source", "nothing there")


def test_given_a_group_photo_when_akool_detect_is_asked_then_faces_obj_has_the_akool_shape(multi_jpg):
    faces = detect_faces(multi_jpg)
    frame = akool_detect_response(multi_jpg)["0"]
    for key in ("landmarks", "landmarks_str", "region", "crop_landmarks", "face_urls", "crop_region"):
        assert len(frame[key]) == 3, key
    for i, face in enumerate(faces):
        lms = frame["landmarks"][i]
        assert len(lms) == 6 and all(len(p) == 2 and all(isinstance(v, int) for v in p) for p in lms)
        assert frame["region"][i] == list(face.box)
        parts = frame["landmarks_str"][i].split(":")
        assert len(parts) == 4 and all(PAIR.match(p) for p in parts)
        assert parts[0] == "{},{}".format(*lms[0])
        crop = frame["crop_landmarks"][i].split(":")
        assert len(crop) == 4 and all(PAIR.match(p) for p in crop)
        _, _, cw, ch = frame["crop_region"][i]
        for p in crop:
            x, y = map(int, p.split(","))
            assert 0 <= x <= cw and 0 <= y <= ch
    assert [r[0] for r in frame["region"]] == sorted(r[0] for r in frame["region"])


def test_given_single_face_when_akool_detect_is_asked_then_only_the_largest_face(multi_jpg):
    frame = akool_detect_response(multi_jpg, single_face=True)["0"]
    assert len(frame["region"]) == 1
    assert frame["region"][0] == list(detect_faces(multi_jpg)[1].box)


def test_given_no_face_when_akool_detect_is_asked_then_lists_are_empty(noface_jpg):
    frame = akool_detect_response(noface_jpg)["0"]
    assert frame["landmarks"] == [] and frame["region"] == [] and frame["landmarks_str"] == []
