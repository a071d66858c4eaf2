"""The OpenAPI 3.1 document of the native API (`GET /v1/openapi.json`), written by hand as Python data.

Every route the api handler serves under /v1 is described here (a unit test checks it), with its request
body, its answers and every error code it can give. Errors share one envelope:
`{"error": {"code", "message", "field"?}}`.
"""

from __future__ import annotations

import copy
from typing import Any

from . import __version__
from .jobs.models import JOB_ERROR_CODES, JobStatus
from .jobs.validation import MAX_FACES, MAX_METADATA_BYTES, MAX_WAIT_SECONDS, OUTPUT_FORMATS

# Every error code the native API answers with, its HTTP status and when.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "The body is empty or not JSON."),
    "invalid_request": (400, "A field is missing, mistyped or out of range (`field` names it)."),
    "unknown_provider": (400, "`provider` is not one of the providers this service knows."),
    "invalid_image": (400, "An image input is not a decodable JPEG, PNG or WebP image."),
    "url_not_allowed": (400, "An image URL points somewhere the SSRF guard refuses (private, loopback, ...)."),
    "upload_not_found": (
        400,
        "An upload ref, storage URL or s3:// ref names nothing among the caller's objects: never uploaded, "
        "expired, or another tenant's (the same answer for each, so existence cannot be probed).",
    ),
    "unauthorized": (401, "No API key, or one that is unknown or revoked."),
    "not_found": (404, "No such job for this tenant (another tenant's job is not found either), or no such route."),
    "conflict": (409, "The job already ended (completed, failed or cancelled) and cannot be cancelled."),
    "batch_ended": (409, "Every job of the batch had already ended (and it was never cancelled)."),
    "idempotency_conflict": (
        409,
        "The Idempotency-Key was used in the last 24 h with a different body, or its first request is "
        "still being processed.",
    ),
    "image_too_large": (413, "An image is over the byte cap (20 MB) or the pixel cap (40 MP)."),
    "request_too_large": (413, "The body is over API Gateway's 10 MB limit: upload images with POST /v1/uploads."),
    "unsupported_media_type": (415, "An upload's content type is not image/jpeg, image/png or image/webp."),
    "url_unreachable": (422, "An image URL could not be fetched (DNS, connection, timeout, HTTP error)."),
    "provider_unavailable": (422, "The provider has no credentials configured (the message names the setting)."),
    "unsupported_by_provider": (
        422,
        "The provider cannot serve the request (e.g. `target_index` or `faces` on a one-face provider); the "
        "field names the option, the message the providers that can.",
    ),
    "throttled": (429, "More requests this second than the tenant's limit; see Retry-After."),
    "internal": (500, "An unexpected error; the request can be retried."),
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

_IMAGE = {
    "type": "string",
    "minLength": 1,
    "description": "An https URL, a `data:image/...;base64,` URI, or an upload ref (`upload:<id>/<name>`) "
    "or download_url from POST /v1/uploads.",
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": list(ERROR_CODES)},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The request field (or header) at fault."},
                },
            }
        },
    },
    "Face": {
        "type": "object",
        "additionalProperties": False,
        "required": ["source_image", "target_face"],
        "properties": {
            "source_image": _IMAGE,
            "target_face": {"type": "integer", "minimum": 0, "maximum": MAX_FACES - 1},
        },
    },
    "JobRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["target_image"],
        "description": "`source_image` is required unless `faces` is given.",
        "properties": {
            "provider": {
                "type": "string",
                "description": "engine (default, offline), akool, wavespeed-akool, wavespeed-pro, or auto "
                "(fall back to the next provider on quota, auth or persistent errors).",
            },
            "source_image": _IMAGE,
            "target_image": _IMAGE,
            "face_enhance": {"type": "boolean", "default": False},
            "target_index": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_FACES - 1,
                "description": "Which face of the target to replace; faces are numbered left to right.",
            },
            "single_face_mode": {"type": "boolean", "default": True},
            "output_format": {"type": "string", "enum": [*OUTPUT_FORMATS, "jpg"], "default": "jpeg"},
            "enable_base64_output": {
                "type": "boolean",
                "default": False,
                "description": "GET /v1/jobs/{id} (and a sync `wait`) then carry each output's bytes in "
                "`outputs[i].base64` (outputs over 4 MB: URL only).",
            },
            "webhook_url": {
                "type": "string",
                "description": "Where the job's terminal event is POSTed (Standard Webhooks, signed with the "
                "tenant's whsec_ secret).",
            },
            "metadata": {
                "type": "object",
                "description": f"Yours, up to {MAX_METADATA_BYTES} bytes of JSON; echoed in every view and event.",
            },
            "faces": {"type": "array", "minItems": 1, "maxItems": MAX_FACES, "items": _ref("Face")},
            "wait": {
                "type": "number",
                "minimum": 0,
                "maximum": MAX_WAIT_SECONDS,
                "description": "Sync mode: hold the answer up to this many seconds; 200 with the job if it "
                "ends in time, else the 202 answer.",
            },
        },
    },
    "Links": {
        "type": "object",
        "required": ["get", "cancel"],
        "properties": {"get": {"type": "string"}, "cancel": {"type": "string"}},
    },
    "Accepted": {
        "type": "object",
        "required": ["id", "status", "urls"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": list(JobStatus)},
            "metadata": {"type": "object"},
            "urls": _ref("Links"),
        },
    },
    "Output": {
        "type": "object",
        "required": ["bucket", "key", "content_type", "width", "height", "bytes", "sha256"],
        "properties": {
            "bucket": {"type": "string"},
            "key": {"type": "string"},
            "content_type": {"type": "string"},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "bytes": {"type": "integer"},
            "sha256": {"type": "string"},
            "nsfw": {
                "type": ["boolean", "null"],
                "description": "The provider's own NSFW flag for this output; null: not checked (engine, Akool).",
            },
            "url": {"type": "string", "description": "Presigned GET, no key needed."},
            "base64": {"type": "string", "description": "Only when the job asked for enable_base64_output."},
            "note": {
                "type": "string",
                "description": "Only when delivering the asked output_format took a step: the provider's format was "
                "converted, or transparency was flattened on white for JPEG.",
            },
        },
    },
    "JobError": {
        "type": ["object", "null"],
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "enum": sorted(JOB_ERROR_CODES)},
            "message": {"type": "string"},
            "provider_code": {"type": ["string", "null"]},
        },
    },
    "Job": {
        "type": "object",
        "required": ["id", "status", "provider", "outputs", "error", "metadata", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": list(JobStatus)},
            "provider": {"type": "string"},
            "provider_job_id": {"type": ["string", "null"]},
            "outputs": {"type": "array", "items": _ref("Output")},
            "error": _ref("JobError"),
            "metadata": {"type": "object"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "timings": {
                "type": "object",
                "properties": {
                    "queued_ms": {"type": ["integer", "null"]},
                    "provider_ms": {"type": ["integer", "null"]},
                    "total_ms": {"type": ["integer", "null"]},
                },
            },
            "correlation_id": {"type": "string"},
            "urls": _ref("Links"),
            "expires_at": {
                "type": "object",
                "description": "When retention deletes the job's inputs and outputs (null: not ended yet, or kept).",
                "properties": {
                    "inputs": {"type": ["string", "null"], "format": "date-time"},
                    "outputs": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "deleted_at": {"type": "string", "format": "date-time", "description": "Set once deleted on request."},
        },
    },
    "JobList": {
        "type": "object",
        "required": ["jobs", "next_cursor"],
        "properties": {
            "jobs": {"type": "array", "items": _ref("Job")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null on the last page.",
            },
        },
    },
    "BatchRequest": {
        "type": "object",
        "required": ["jobs"],
        "properties": {
            "jobs": {
                "type": "array",
                "minItems": 1,
                "maxItems": 1000,
                "items": {"type": "object", "description": "A job request, as the body of POST /v1/jobs."},
            },
            "defaults": {"type": "object", "description": "Fields every job request gets unless it sets them."},
        },
    },
    "ManifestBatchRequest": {
        "type": "object",
        "required": ["manifest"],
        "additionalProperties": False,
        "properties": {
            "manifest": {
                "type": "string",
                "description": "A JSONL file (one job request per line, up to 100,000) in the input bucket under "
                "uploads/<your tenant>/: `s3://<bucket>/<key>` or the key. Its jobs are registered (listed "
                "`queued`) by the batch's runner, then run; a line that is not a valid request fails alone.",
            }
        },
    },
    "BatchCounts": {
        "type": "object",
        "properties": {
            name: {"type": "integer"} for name in ("queued", "processing", "completed", "failed", "cancelled", "total")
        },
    },
    "Batch": {
        "type": "object",
        "required": ["id", "status", "counts", "urls"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "processing", "completed"]},
            "counts": _ref("BatchCounts"),
            "created_at": {"type": "string"},
            "finished_at": {"type": "string"},
            "cancelled_at": {"type": "string", "description": "When POST /v1/batches/{id}/cancel was first asked."},
            "urls": {"type": "object", "properties": {"get": {"type": "string"}, "cancel": {"type": "string"}}},
            "next_token": {
                "type": ["string", "null"],
                "description": "GET only: pass as `next_token` for the next page of jobs; null on the last.",
            },
            "jobs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "id": {"type": "string"},
                        "status": {"type": "string", "enum": list(JobStatus)},
                        "outputs": {"type": "array", "items": {"type": "object"}},
                        "error": {"type": ["object", "null"]},
                    },
                },
            },
        },
    },
    "UploadRequest": {
        "type": "object",
        "required": ["filename", "content_type", "size"],
        "properties": {
            "filename": {"type": "string"},
            "content_type": {"type": "string", "enum": ["image/jpeg", "image/png", "image/webp"]},
            "size": {"type": "integer", "minimum": 1},
        },
    },
    "Upload": {
        "type": "object",
        "required": ["id", "upload", "image_ref", "download_url"],
        "properties": {
            "id": {"type": "string"},
            "upload": {
                "type": "object",
                "description": "PUT the bytes here with exactly these headers (no API key).",
                "properties": {
                    "method": {"const": "PUT"},
                    "url": {"type": "string"},
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "image_ref": {"type": "string", "description": "Use as an image input of a job."},
            "download_url": {"type": "string"},
            "expires_at": {"type": "string"},
        },
    },
}

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
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobRequest")}}},
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
            "summary": "A batch with its counts and a page of its jobs",
            "description": "Counts are always the whole batch's; `jobs` is one page in index order.",
            "parameters": [
                {**_JOB_ID, "description": "The batch id."},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
                {"name": "next_token", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {"200": _json_body(_ref("Batch"), "The batch."), **_errors(400, 404)},
        },
        "delete": {
            "operationId": "deleteBatch",
            "summary": "Delete every job of a batch or manifest",
            "description": "As DELETE /v1/jobs/{id} for each job, and the stored requests. A batch still running "
            "is refused with 409 unless `cancel=true` (jobs not started then never start).",
            "parameters": [{**_JOB_ID, "description": "The batch id."}, _CANCEL],
            "responses": {"202": _json_body(_ref("Batch"), "The batch; deletion under way."), **_errors(400, 404, 409)},
        },
    },
    "/v1/batches/{id}/cancel": {
        "post": {
            "operationId": "cancelBatch",
            "summary": "Cancel every job of a batch that has not ended",
            "description": "Each queued or processing job ends `cancelled` with one `Swap Job Cancelled` (a "
            "running provider job finishes at the provider; its result is discarded), then one "
            "`Swap Batch Completed`. Idempotent: a batch cancelled before answers 202 again. A batch that "
            "ended without a cancel: 409 `batch_ended`, as cancelling an ended job is a 409.",
            "parameters": [{**_JOB_ID, "description": "The batch id."}],
            "responses": {
                "202": _json_body(_ref("Batch"), "The batch; its open jobs are being cancelled."),
                **_errors(404, 409),
            },
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


_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "swapflow",
        "version": __version__,
        "description": "Face-swap jobs. Authenticate with `Authorization: Bearer <key>` or `x-api-key: <key>`. "
        "Each tenant has a per-second request limit (429 `throttled` with Retry-After); every answer "
        "says what is left of it in `RateLimit-Policy` / `RateLimit` (IETF draft). Errors are "
        '`{"error": {"code", "message", "field"}}`.',
    },
    "security": [{"bearer": []}, {"apiKey": []}],
    "paths": _with_budget_headers(_PATHS),
    "components": {
        "schemas": _SCHEMAS,
        "responses": {f"E{status}": _error_response(status) for status in sorted({s for s, _ in ERROR_CODES.values()})},
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        },
    },
}


def openapi_document() -> dict[str, Any]:
    return copy.deepcopy(_DOCUMENT)
