"""Job request validation: everything judged from the request alone is refused with a named field."""

from __future__ import annotations

import json

import pytest
from swapflow.jobs.exceptions import RequestInvalidError
from swapflow.jobs.validation import MAX_METADATA_DEPTH, json_depth, parse_job_request, parse_json_body

PROVIDERS = ("engine", "akool", "wavespeed-akool", "wavespeed-pro")
SRC = "https://images.example.com/a.jpg"
TGT = "https://images.example.com/b.jpg"


def parse(body: object):
    return parse_job_request(body, providers=PROVIDERS, default_provider="engine")


def refused(body: object) -> RequestInvalidError:
    with pytest.raises(RequestInvalidError) as info:
        parse(body)
    return info.value


def test_given_minimal_request_when_parsed_then_defaults_apply() -> None:
    request = parse({"source_image": SRC, "target_image": TGT})
    assert request.provider == "engine"
    assert request.output_format == "jpeg"
    assert request.single_face_mode is True
    assert request.target_index is None


def test_given_jpg_alias_when_parsed_then_output_format_is_jpeg() -> None:
    assert parse({"source_image": SRC, "target_image": TGT, "output_format": "jpg"}).output_format == "jpeg"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ([], "invalid_request", None),
        ({"target_image": TGT}, "invalid_request", "source_image"),
        ({"source_image": SRC}, "invalid_request", "target_image"),
        ({"source_image": "", "target_image": TGT}, "invalid_request", "source_image"),
        ({"source_image": 3, "target_image": TGT}, "invalid_request", "source_image"),
        ({"source_image": SRC, "target_image": TGT, "provider": "nope"}, "unknown_provider", "provider"),
        (
            {"source_image": SRC, "target_image": TGT, "face_enhance": "yes"},
            "invalid_request",
            "face_enhance",
        ),
        ({"source_image": SRC, "target_image": TGT, "target_index": -1}, "invalid_request", "target_index"),
        ({"source_image": SRC, "target_image": TGT, "target_index": True}, "invalid_request", "target_index"),
        (
            {"source_image": SRC, "target_image": TGT, "output_format": "gif"},
            "invalid_request",
            "output_format",
        ),
        ({"source_image": SRC, "target_image": TGT, "wait": 26}, "invalid_request", "wait"),
        ({"source_image": SRC, "target_image": TGT, "metadata": []}, "invalid_request", "metadata"),
        (
            {"source_image": SRC, "target_image": TGT, "metadata": {"x": "y" * 5000}},
            "invalid_request",
            "metadata",
        ),
        (  # 900 levels fit in 4,096 bytes: refused by depth, before anything recurses over them
            {"source_image": SRC, "target_image": TGT, "metadata": {"a": json.loads("[" * 900 + "]" * 900)}},
            "invalid_request",
            "metadata",
        ),
        (
            {"source_image": SRC, "target_image": TGT, "webhook_url": "ftp://x"},
            "invalid_request",
            "webhook_url",
        ),
        ({"source_image": SRC, "target_image": TGT, "faces": []}, "invalid_request", "faces"),
        ({"source_image": SRC, "target_image": TGT, "faces": [{"target_face": 1}]}, "invalid_request", None),
        ({"source_image": SRC, "target_image": TGT, "colour": "red"}, "invalid_request", "colour"),
    ],
)
def test_given_bad_request_when_parsed_then_refused_naming_the_field(body, code, field) -> None:
    error = refused(body)
    assert error.code == code
    if field:
        assert error.field == field
    assert error.message


def test_given_faces_without_source_when_parsed_then_first_face_source_is_used() -> None:
    request = parse({"target_image": TGT, "faces": [{"source_image": SRC, "target_face": 2}]})
    assert request.source_image == SRC
    assert request.faces[0].target_face == 2


@pytest.mark.parametrize("raw", [None, "", b"", "{not json", "\xff", "[" * 100_000 + "]" * 100_000])
def test_given_malformed_body_when_decoded_then_invalid_json(raw) -> None:
    with pytest.raises(RequestInvalidError) as info:
        parse_json_body(raw)
    assert info.value.code == "invalid_json"


# ---- depth, size and unicode caps (issue 11) ---------------------------------------------------------


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_given_metadata_at_the_depth_cap_when_parsed_then_accepted_and_one_deeper_refused() -> None:
    ok = parse({"source_image": SRC, "target_image": TGT, "metadata": nested(MAX_METADATA_DEPTH)})
    assert ok.metadata is not None and json_depth(ok.metadata) == MAX_METADATA_DEPTH
    deep = refused({"source_image": SRC, "target_image": TGT, "metadata": nested(MAX_METADATA_DEPTH + 1)})
    assert (deep.code, deep.field) == ("invalid_request", "metadata")


@pytest.mark.parametrize(
    "raw", [b"[" * 950 + b"]" * 950, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 40 + b"1" + b"}" * 40]
)
def test_given_a_body_nested_too_deep_when_decoded_then_invalid_json_not_a_crash(raw: bytes) -> None:
    with pytest.raises(RequestInvalidError) as caught:
        parse_json_body(raw)
    assert caught.value.code == "invalid_json" and "nests deeper" in caught.value.message


@pytest.mark.parametrize("raw", [b'{"source_image": "\\ud800"}', b'{"\\udfff": 1}', b'{"m": ["ok", "\\ud83d"]}'])
def test_given_a_lone_surrogate_when_decoded_then_invalid_json(raw: bytes) -> None:
    with pytest.raises(RequestInvalidError, match="surrogate") as caught:
        parse_json_body(raw)
    assert caught.value.code == "invalid_json"


def test_given_a_paired_surrogate_escape_when_decoded_then_it_is_the_character() -> None:
    assert parse_json_body(b'{"face": "\\ud83d\\ude00"}') == {"face": "\U0001f600"}


def test_given_json_depth_when_measured_then_scalars_zero_and_deep_values_without_recursion() -> None:
    assert json_depth("x") == 0 and json_depth([]) == 1 and json_depth({"a": [1, {"b": 2}]}) == 3
    assert json_depth(nested(50_000)) == 50_000
