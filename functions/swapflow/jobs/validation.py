"""Validation of job requests: everything that can be judged from the request alone (DESIGN 3)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..faces import Face, SwapOptions
from .exceptions import RequestInvalidError

# The bounds of a job request. Its shape is defined once, as the API's pydantic model (swapflow.api_models.jobs,
# imported when a request is parsed: functions that never parse one do not load pydantic).
OUTPUT_FORMATS = ("jpeg", "png", "webp")
MAX_FACES = 50
MAX_WAIT_SECONDS = 25
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 8  # levels of objects/arrays inside `metadata` (itself the first)
MAX_BODY_DEPTH = 32  # a request body nested deeper than this is not a job request
MAX_IMAGE_FIELD_CHARS = 30 * 1024 * 1024  # a 20 MB image as base64 plus its data: prefix

# Codes a job request's own checks can answer with (the rest of a refusal is `invalid_request`).
REQUEST_CODES = ("unknown_provider", "image_too_large", "invalid_request")


@dataclass(frozen=True)
class JobRequest(SwapOptions[str]):
    """A syntactically valid job request; image fields are still references (URL, data: URI, upload)."""

    provider: str
    source_image: str
    target_image: str
    enable_base64_output: bool = False
    webhook_url: str | None = None
    metadata: Mapping[str, Any] | None = None
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


def has_lone_surrogate(value: Any) -> bool:
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
    if has_lone_surrogate(doc):
        raise RequestInvalidError("invalid_json", "the request body holds an unpaired UTF-16 surrogate")
    return doc


def parse_job_request(
    body: Any, *, providers: Collection[str], default_provider: str, auto_chain: Collection[str] = ()
) -> JobRequest:
    """Turn a decoded JSON body into a JobRequest or raise RequestInvalidError naming the field (the API's
    model, with the known providers); a request its provider cannot serve (on `auto`: no provider of
    `auto_chain`) is refused too (DESIGN 3)."""
    from pydantic import ValidationError

    from ..api_models import JobRequestBody, request_error

    try:
        model = JobRequestBody.model_validate(body, context={"providers": providers})
    except ValidationError as exc:
        raise request_error(exc.errors(), REQUEST_CODES) from None
    faces = tuple(Face(face.source_image, face.target_face) for face in model.faces or ())
    request = JobRequest(
        provider=model.provider or default_provider,
        source_image=model.source_image or faces[0].source_image,
        target_image=model.target_image,
        face_enhance=model.face_enhance,
        target_index=model.target_index,
        single_face_mode=model.single_face_mode,
        output_format="jpeg" if model.output_format == "jpg" else model.output_format,
        enable_base64_output=model.enable_base64_output,
        webhook_url=model.webhook_url,
        metadata=model.metadata,
        faces=faces,
        wait=model.wait,
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
