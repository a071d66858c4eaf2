"""The OpenAPI 3.1 document of the native API (`GET /v1/openapi.json`).

The schemas are generated from the pydantic models the api handler validates with (swapflow.api_models);
what is written here is what the models cannot say: the paths with their parameters, headers and answers,
and the error-code table. Every route the api handler serves under /v1 is described (a unit test checks it).
Errors share one envelope: `{"error": {"code", "message", "field"?}}`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from . import __version__
from .api_models import component_schemas
from .jobs.models import JobStatus
from .jobs.validation import MAX_WAIT_SECONDS

# Every error code the native API answers with, by HTTP status, and when.
_ERRORS_BY_STATUS: dict[int, dict[str, str]] = {
    400: {
        "invalid_json": "The body is empty or not JSON.",
        "invalid_request": "A field is missing, mistyped or out of range (`field` names it).",
        "unknown_provider": "`provider` is not one of the providers this service knows.",
        "invalid_image": "An image input is not a decodable JPEG, PNG or WebP image.",
        "url_not_allowed": "An image URL points somewhere the SSRF guard refuses (private, loopback, ...).",
        "upload_not_found": "An upload ref, storage URL or s3:// ref names nothing among the caller's objects: "
        "never uploaded, expired, or another tenant's (the same answer for each, so existence cannot be probed).",
    },
    401: {"unauthorized": "No API key, or one that is unknown or revoked."},
    404: {"not_found": "No such job for this tenant (another tenant's job is not found either), or no such route."},
    409: {
        "conflict": "The job already ended (completed, failed or cancelled) and cannot be cancelled.",
        "batch_ended": "Every job of the batch had already ended (and it was never cancelled).",
        "idempotency_conflict": "The Idempotency-Key was used in the last 24 h with a different body, or its "
        "first request is still being processed.",
    },
    413: {
        "image_too_large": "An image is over the byte cap (20 MB) or the pixel cap (40 MP).",
        "request_too_large": "The body is over API Gateway's 10 MB limit: upload images with POST /v1/uploads.",
    },
    415: {
        "unsupported_media_type": "An upload's content type is not image/jpeg, image/png or image/webp, or the "
        "body is not application/json.",
    },
    422: {
        "url_unreachable": "An image URL could not be fetched (DNS, connection, timeout, HTTP error).",
        "provider_unavailable": "The provider has no credentials configured (the message names the setting).",
        "unsupported_by_provider": "The provider cannot serve the request (e.g. `target_index` or `faces` on a "
        "one-face provider); the field names the option, the message the providers that can.",
    },
    429: {"throttled": "More requests this second than the tenant's limit; see Retry-After."},
    500: {"internal": "An unexpected error; the request can be retried."},
}
ERROR_CODES: dict[str, tuple[int, str]] = {
    code: (status, when) for status, codes in _ERRORS_BY_STATUS.items() for code, when in codes.items()
}

_REF = "#/components/schemas/"
_RESP = "#/components/responses/"


_CANCEL = {"name": "cancel", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _error_response(status: int) -> dict[str, Any]:
    codes = [code for code, (s, _) in ERROR_CODES.items() if s == status]
    lines = "\n".join(f"- `{code}`: {ERROR_CODES[code][1]}" for code in codes)
    response: dict[str, Any] = {
        "description": f"Error codes:\n{lines}",
        "content": {
            "application/json": {
                "schema": {
                    "allOf": [
                        _ref("Error"),
                        {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
                    ]
                }
            }
        },
    }
    response["headers"] = dict(RATELIMIT_HEADERS)
    if status == 429:
        response["headers"]["Retry-After"] = {
            "description": "Seconds until the tenant's next one-second window opens.",
            "schema": {"type": "integer", "minimum": 1},
        }
    return response


# IETF draft-ietf-httpapi-ratelimit-headers (-10): on every /v1 answer to a caller whose tenant has a limit.
RATELIMIT_HEADERS: dict[str, Any] = {
    "RateLimit-Policy": {
        "description": 'The tenant\'s request budget: `"tenant";q=<requests>;w=1` (per one-second window; '
        "SWAPFLOW_TENANT_RPS). Absent when the stack sets no limit.",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it: `"tenant";r=<remaining>;t=<seconds until the window resets>`.',
        "schema": {"type": "string"},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"{_RESP}E{s}"} for s in (*statuses, 401, 429, 500)}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_PREFERENCE_APPLIED = {
    "Preference-Applied": {
        "description": "`wait=N` when the wait came from `Prefer: wait=N` (N as applied, after the cap).",
        "schema": {"type": "string"},
    }
}
_LOCATION = {"Location": {"description": "Where the job can be read.", "schema": {"type": "string"}}}
_JOB_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The job id (a ULID).",
    "schema": {"type": "string"},
}

_BATCH_ID = {**_JOB_ID, "description": "The batch id."}

_PATHS: dict[str, Any] = {
    "/v1/jobs": {
        "post": {
            "operationId": "createJob",
            "summary": "Submit a face-swap job",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Same key + same body within 24 h answers with the same job and starts "
                    "nothing new; same key + another body is 409 idempotency_conflict.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                },
                {
                    "name": "Prefer",
                    "in": "header",
                    "required": False,
                    "description": "`wait=N` (RFC 7240): the same as the body's `wait` (capped at "
                    f"{MAX_WAIT_SECONDS} s), used when the body has none; answered with `Preference-Applied`.",
                    "schema": {"type": "string", "examples": ["wait=20"]},
                },
                {
                    "name": "Cancel-After",
                    "in": "header",
                    "required": False,
                    "description": "This job's deadline from acceptance: seconds (`90`) or a duration (`1m30s`), "
                    "at most the stack's SWAPFLOW_JOB_DEADLINE_SECONDS. A job still running then ends `failed` "
                    "with `provider_timeout` (and the provider is asked to cancel), like one past the stack's "
                    "deadline. A bad value is 400 `invalid_request` with field `Cancel-After`.",
                    "schema": {"type": "string", "examples": ["90", "1m30s"]},
                },
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobRequestBody")}}},
            "responses": {
                "202": {
                    **_json_body(_ref("Accepted"), "Accepted; follow `urls.get` until the job ends."),
                    "headers": {
                        **_LOCATION,
                        "Idempotent-Replayed": {
                            "description": "`true` when an earlier request with this Idempotency-Key made the job.",
                            "schema": {"type": "string"},
                        },
                        **_PREFERENCE_APPLIED,
                    },
                },
                "200": {
                    **_json_body(_ref("Job"), "A sync `wait` saw the job end."),
                    "headers": {**_LOCATION, **_PREFERENCE_APPLIED},
                },
                **_errors(400, 409, 413, 422),
            },
        },
        "get": {
            "operationId": "listJobs",
            "summary": "The caller's jobs, newest first",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(JobStatus)}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                },
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": _json_body(_ref("JobList"), "One page of jobs."), **_errors(400)},
        },
    },
    "/v1/jobs/{id}": {
        "get": {
            "operationId": "getJob",
            "summary": "One job",
            "parameters": [_JOB_ID],
            "responses": {"200": _json_body(_ref("Job"), "The job."), **_errors(404)},
        },
        "delete": {
            "operationId": "deleteJob",
            "summary": "Delete a job's photos and personal fields",
            "description": "Deletes the job's inputs, outputs (every version), staged files and outbox copies, and "
            "strips metadata, webhook_url and correlation_id from the record (a tombstone with ids, status, "
            "timestamps and hashes stays). Idempotent; emits one `Swap Job Deleted` when done. A queued or "
            "processing job is refused with 409 unless `cancel=true`.",
            "parameters": [_JOB_ID, _CANCEL],
            "responses": {
                "202": _json_body(_ref("Job"), "The tombstone; deletion under way."),
                **_errors(400, 404, 409),
            },
        },
    },
    "/v1/jobs/{id}/cancel": {
        "post": {
            "operationId": "cancelJob",
            "summary": "Cancel a queued or processing job",
            "description": "Ends the job `cancelled`, stops its workflow and emits one `Swap Job Cancelled` event.",
            "parameters": [_JOB_ID],
            "responses": {
                "200": {**_json_body(_ref("Job"), "The job, now cancelled."), "headers": _LOCATION},
                **_errors(404, 409),
            },
        }
    },
    "/v1/batches": {
        "post": {
            "operationId": "createBatch",
            "summary": "Submit up to 1,000 jobs at once",
            "description": "Every job request is judged first: one bad request refuses the whole batch (400 with "
            "`error.errors`, a list of {path, message}). Jobs then run as independent executions; one "
            "`Swap Batch Completed` event follows when all are terminal.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"oneOf": [_ref("BatchRequest"), _ref("ManifestBatchRequest")]}}
                },
            },
            "responses": {
                "202": {**_json_body(_ref("Batch"), "Accepted."), "headers": _LOCATION},
                **_errors(400, 413, 422),
            },
        }
    },
    "/v1/batches/{id}": {
        "get": {
            "operationId": "getBatch",
            "summary": "A batch with its counts (over all its jobs) and one page of its jobs",
            "parameters": [
                _BATCH_ID,
                {
                    "name": "limit",
                    "in": "query",
                    "description": "Jobs per page.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                {
                    "name": "next_token",
                    "in": "query",
                    "description": "The `next_token` of the previous page.",
                    "schema": {"type": "string"},
                },
            ],
            "responses": {"200": _json_body(_ref("Batch"), "The batch."), **_errors(400, 404)},
        },
        "delete": {
            "operationId": "deleteBatch",
            "summary": "Delete every job of a batch or manifest",
            "description": "As DELETE /v1/jobs/{id} for each job, and the stored requests. A batch still running "
            "is refused with 409 unless `cancel=true` (jobs not started then never start).",
            "parameters": [_BATCH_ID, _CANCEL],
            "responses": {"202": _json_body(_ref("Batch"), "The batch; deletion under way."), **_errors(400, 404, 409)},
        },
    },
    "/v1/batches/{id}/cancel": {
        "post": {
            "operationId": "cancelBatch",
            "summary": "Cancel every job of a batch that has not ended",
            "description": "Jobs not started never start; running ones end `cancelled` as POST /v1/jobs/{id}/cancel "
            "does. The batch view follows, its counts as they stand.",
            "parameters": [_BATCH_ID],
            "responses": {"202": _json_body(_ref("Batch"), "The batch; cancelling under way."), **_errors(404, 409)},
        }
    },
    "/v1/uploads": {
        "post": {
            "operationId": "createUpload",
            "summary": "A presigned PUT for an input image",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("UploadRequest")}}},
            "responses": {
                "201": _json_body(_ref("Upload"), "Upload the bytes, then use `image_ref`."),
                **_errors(400, 413, 415),
            },
        }
    },
    "/v1/docs": {
        "get": {
            "operationId": "docs",
            "summary": "Swagger UI over this document (vendored assets, works offline)",
            "security": [],
            "responses": {"200": {"description": "An HTML page.", "content": {"text/html": {}}}},
        }
    },
    "/v1/docs/{name}": {
        "get": {
            "operationId": "docsAsset",
            "summary": "A file of the Swagger UI page (`swagger-ui-bundle.js`, `swagger-ui.css`)",
            "security": [],
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "The file.", "content": {"application/javascript": {}, "text/css": {}}},
                "404": {**_json_body(_ref("Error"), "No such file.")},
            },
        }
    },
    "/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json_body({"type": "object"}, "The OpenAPI 3.1 document.")},
        }
    },
}


def _with_budget_headers(paths: dict[str, Any]) -> dict[str, Any]:
    """Every answer to a caller with a key carries the tenant's RateLimit headers (errors: in components)."""
    for operations in paths.values():
        for operation in operations.values():
            if operation.get("security") == []:
                continue
            for answer in operation["responses"].values():
                if "$ref" not in answer:
                    answer["headers"] = {**answer.get("headers", {}), **RATELIMIT_HEADERS}
    return paths


_ERROR_TABLE = "| code | HTTP | when |\n|---|---|---|\n" + "\n".join(
    f"| `{code}` | {status} | {when} |" for code, (status, when) in ERROR_CODES.items()
)


@functools.cache
def _document() -> dict[str, Any]:
    """Built on first use: importing this module (for ERROR_CODES) does not generate the schemas."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "swapflow",
            "version": __version__,
            "description": "Face-swap jobs. Authenticate with `Authorization: Bearer <key>` or `x-api-key: <key>`. "
            "Each tenant has a per-second request limit (429 `throttled` with Retry-After); every answer "
            "says what is left of it in `RateLimit-Policy` / `RateLimit` (IETF draft). Errors are "
            '`{"error": {"code", "message", "field"}}`:\n\n' + _ERROR_TABLE,
        },
        # The handler answers with the stage prefix it was reached under (`/prod` in AWS).
        "servers": [{"url": "/", "description": "This deployment (the stage prefix is added when served)."}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": _with_budget_headers(_PATHS),
        "components": {
            "schemas": component_schemas(list(ERROR_CODES)),
            "responses": {
                f"E{status}": _error_response(status) for status in sorted({s for s, _ in ERROR_CODES.values()})
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    return copy.deepcopy(_document())
