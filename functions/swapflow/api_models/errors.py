"""The error envelope `{"error": {code, message, field}}`: its model, and pydantic's errors turned into it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import Field

from ..jobs.exceptions import RequestInvalidError
from .common import Answer


class ErrorDetail(Answer):
    code: str
    message: str
    field: str | None = Field(None, description="The request field (or header) at fault.")
    errors: list[dict[str, str]] | None = Field(
        None, description="POST /v1/batches: every problem found, as {path, message}."
    )


class Error(Answer):
    """Every error answer: `{"error": {code, message, field?}}`."""

    error: ErrorDetail


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field(loc: Iterable[Any]) -> str | None:
    """("body", "faces", 0, "source_image") -> "faces[0].source_image" (the location's kind dropped)."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path or None


def request_error(errors: Sequence[Mapping[str, Any]], codes: Iterable[str]) -> RequestInvalidError:
    """The first of pydantic's errors as our RequestInvalidError: unknown fields first (as before the models),
    a custom error's type is its code when it is one of `codes`, everything else `invalid_request`."""
    known = set(codes)
    ordered = sorted(errors, key=lambda e: e.get("type") != "extra_forbidden")
    first = ordered[0]
    field = _field(first.get("loc", ()))
    kind = str(first.get("type", ""))
    if kind == "extra_forbidden":
        unknown = sorted(f for e in ordered if e.get("type") == "extra_forbidden" if (f := _field(e["loc"])))
        return RequestInvalidError("invalid_request", f"unknown field(s): {', '.join(unknown)}", field)
    if kind == "missing" and field is None and first.get("input") is None:
        return RequestInvalidError("invalid_json", "the request body is empty; send a JSON object")
    if kind in ("model_type", "model_attributes_type", "dict_type") and field is None:
        return RequestInvalidError("invalid_request", "the request body must be a JSON object")
    if kind == "source_required":  # the model-level check: source_image or faces
        return RequestInvalidError("invalid_request", str(first["msg"]), "source_image")
    message = str(first.get("msg", "invalid value"))
    return RequestInvalidError(
        kind if kind in known else "invalid_request", f"{field}: {message}" if field else message, field
    )
