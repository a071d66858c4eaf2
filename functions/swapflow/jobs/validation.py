"""Validation of job requests: everything that can be judged from the request alone (DESIGN 3)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .exceptions import RequestInvalidError

OUTPUT_FORMATS = ("jpeg", "png", "webp")
MAX_FACES = 50
MAX_WAIT_SECONDS = 25
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 8  # levels of objects/arrays inside `metadata` (itself the first)
MAX_BODY_DEPTH = 32  # a request body nested deeper than this is not a job request
MAX_IMAGE_FIELD_CHARS = 30 * 1024 * 1024  # a 20 MB image as base64 plus its data: prefix

_FIELDS = {
    "provider",
    "source_image",
    "target_image",
    "face_enhance",
    "target_index",
    "single_face_mode",
    "output_format",
    "enable_base64_output",
    "webhook_url",
    "metadata",
    "faces",
    "wait",
}


@dataclass(frozen=True)
class FaceRequest:
    source_image: str
    target_face: int


@dataclass(frozen=True)
class JobRequest:
    """A syntactically valid job request; image fields are still references (URL, data: URI, upload)."""

    provider: str
    source_image: str
    target_image: str
    face_enhance: bool = False
    target_index: int | None = None
    single_face_mode: bool = True
    output_format: str = "jpeg"
    enable_base64_output: bool = False
    webhook_url: str | None = None
    metadata: Mapping[str, Any] | None = None
    faces: tuple[FaceRequest, ...] = ()
    wait: float = 0
    # `Cancel-After`: this job's own deadline in seconds from acceptance (None: the stack's deadline).
    deadline_seconds: int | None = None


def json_depth(value: Any) -> int:
    """How deeply objects and arrays nest in `value` (0 for a scalar), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    """True if any key or string holds an unpaired UTF-16 surrogate (valid JSON escapes, not storable text)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json_body(body: str | bytes | None) -> Any:
    """The decoded body; nesting deeper than MAX_BODY_DEPTH and unpaired surrogates are refused (400)."""
    if body is None or body == "" or body == b"":
        raise RequestInvalidError("invalid_json", "the request body is empty; send a JSON object")
    try:
        doc = json.loads(body)
    except RecursionError as exc:
        raise RequestInvalidError("invalid_json", f"the body nests deeper than {MAX_BODY_DEPTH} levels") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalidError("invalid_json", f"the request body is not valid JSON: {exc}") from exc
    if json_depth(doc) > MAX_BODY_DEPTH:
        raise RequestInvalidError("invalid_json", f"the body nests deeper than {MAX_BODY_DEPTH} levels")
    if _has_lone_surrogate(doc):
        raise RequestInvalidError("invalid_json", "the request body holds an unpaired UTF-16 surrogate")
    return doc


def _bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise RequestInvalidError("invalid_request", f"{name} must be true or false", name)
    return value


def _int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestInvalidError("invalid_request", f"{name} must be an integer from {lo} to {hi}", name)
    return value


def _image_ref(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RequestInvalidError(
            "invalid_request", f"{name} is required: an https URL, a data: URI or an upload ref", name
        )
    if len(value) > MAX_IMAGE_FIELD_CHARS:
        raise RequestInvalidError("image_too_large", f"{name} is larger than the 20 MB image cap", name)
    return value.strip()


def parse_job_request(
    body: Any, *, providers: Collection[str], default_provider: str, auto_chain: Collection[str] = ()
) -> JobRequest:
    """Turn a decoded JSON body into a JobRequest or raise RequestInvalidError naming the field; a request
    its provider cannot serve (on `auto`: no provider of `auto_chain`) is refused too (DESIGN 3)."""
    if not isinstance(body, dict):
        raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise RequestInvalidError("invalid_request", f"unknown field(s): {', '.join(unknown)}", unknown[0])

    provider = body.get("provider", default_provider)
    if not isinstance(provider, str) or provider not in providers:
        raise RequestInvalidError(
            "unknown_provider",
            f"provider must be one of: {', '.join(sorted(providers))}",
            "provider",
        )

    faces: list[FaceRequest] = []
    raw_faces = body.get("faces")
    if raw_faces is not None:
        if not isinstance(raw_faces, list) or not 1 <= len(raw_faces) <= MAX_FACES:
            raise RequestInvalidError("invalid_request", f"faces must be a list of 1 to {MAX_FACES}", "faces")
        for i, item in enumerate(raw_faces):
            if not isinstance(item, dict) or set(item) - {"source_image", "target_face"}:
                raise RequestInvalidError("invalid_request", "each face is {source_image, target_face}", f"faces[{i}]")
            faces.append(
                FaceRequest(
                    _image_ref(item.get("source_image"), f"faces[{i}].source_image"),
                    _int(item.get("target_face"), f"faces[{i}].target_face", 0, MAX_FACES - 1),
                )
            )

    source = body.get("source_image")
    if source is None and faces:
        source = faces[0].source_image
    target_index = body.get("target_index")
    output_format = body.get("output_format", "jpeg")
    if output_format == "jpg":
        output_format = "jpeg"
    if output_format not in OUTPUT_FORMATS:
        raise RequestInvalidError(
            "invalid_request", f"output_format must be one of: {', '.join(OUTPUT_FORMATS)}", "output_format"
        )
    webhook_url = body.get("webhook_url")
    if webhook_url is not None and (
        not isinstance(webhook_url, str) or not webhook_url.startswith(("https://", "http://"))
    ):
        raise RequestInvalidError("invalid_request", "webhook_url must be an https URL", "webhook_url")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            raise RequestInvalidError("invalid_request", "metadata must be a JSON object", "metadata")
        if json_depth(metadata) > MAX_METADATA_DEPTH:
            raise RequestInvalidError(
                "invalid_request", f"metadata may nest at most {MAX_METADATA_DEPTH} levels deep", "metadata"
            )
        if _has_lone_surrogate(metadata):
            raise RequestInvalidError("invalid_request", "metadata holds an unpaired UTF-16 surrogate", "metadata")
        if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
            raise RequestInvalidError(
                "invalid_request", f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON", "metadata"
            )
    wait = body.get("wait", 0)
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= MAX_WAIT_SECONDS:
        raise RequestInvalidError(
            "invalid_request", f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS}", "wait"
        )

    request = JobRequest(
        provider=provider,
        source_image=_image_ref(source, "source_image"),
        target_image=_image_ref(body.get("target_image"), "target_image"),
        face_enhance=_bool(body, "face_enhance", False),
        target_index=None if target_index is None else _int(target_index, "target_index", 0, MAX_FACES - 1),
        single_face_mode=_bool(body, "single_face_mode", True),
        output_format=output_format,
        enable_base64_output=_bool(body, "enable_base64_output", False),
        webhook_url=webhook_url,
        metadata=metadata,
        faces=tuple(faces),
        wait=float(wait),
    )
    refuse_unservable(request, auto_chain)
    return request


def refuse_unservable(request: JobRequest, auto_chain: Collection[str]) -> None:
    """RequestInvalidError `unsupported_by_provider` (422) naming the field a provider cannot serve."""
    from ..providers.registry import refusal

    refused = refusal(request.provider, request, auto_chain=auto_chain)
    if refused is not None:
        raise RequestInvalidError("unsupported_by_provider", refused.message, refused.field)


_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?")


def prefer_wait(header: str | None) -> float | None:
    """`Prefer: wait=N` (RFC 7240): N seconds, capped at MAX_WAIT_SECONDS. None when absent or malformed: a
    preference the server cannot honour is ignored, never refused."""
    for preference in (header or "").split(","):
        name, _, value = preference.split(";")[0].partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return float(min(int(value.strip()), MAX_WAIT_SECONDS))
    return None


def cancel_after(header: str | None, max_seconds: int) -> int | None:
    """`Cancel-After: 90` or `1m30s` (Replicate's form): the job's deadline, 1 s to the stack's deadline."""
    if header is None:
        return None
    value = header.strip()
    match = _DURATION.fullmatch(value) if value and not value.isdigit() else None
    if value.isdigit():
        seconds = float(value)
    elif match:
        hours, minutes, secs = match.groups()
        seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0)
    else:
        seconds = -1.0
    if not 1 <= seconds <= max_seconds:
        raise RequestInvalidError(
            "invalid_request",
            f"Cancel-After must be a duration from 1 s to {max_seconds} s (e.g. 90 or 1m30s)",
            "Cancel-After",
        )
    return math.ceil(seconds)


def with_header_options(
    request: JobRequest, body: Mapping[str, Any], *, prefer: str | None, deadline: str | None, max_deadline: int
) -> tuple[JobRequest, float | None]:
    """The request with `Prefer: wait` (when the body sets no `wait`) and `Cancel-After` applied, and the
    wait taken from Prefer (for `Preference-Applied`)."""
    preferred = prefer_wait(prefer) if "wait" not in body else None
    return (
        replace(
            request,
            wait=request.wait if preferred is None else preferred,
            deadline_seconds=cancel_after(deadline, max_deadline),
        ),
        preferred,
    )
