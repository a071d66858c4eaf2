"""`swapflow.Client`: the Python client of the native API (stdlib only, so it ships in the Lambda package).

    from swapflow import Client

    client = Client(api_key="sf_local_dev_key", base_url="http://127.0.0.1:8000")
    job = client.swap("face.jpg", "photo.jpg", output_format="png")
    client.download(job, "result.png")

Images may be local paths, bytes, https URLs, `data:` URIs or upload refs: small files travel inline
as `data:` URIs, larger ones through `POST /v1/uploads` and a presigned PUT, so a request never nears
API Gateway's 10 MB body limit. API errors raise `SwapflowError` with the API's `code` and HTTP
`status`; 429 answers are retried after their `Retry-After`.
"""

from __future__ import annotations

import base64
import builtins
import json
import mimetypes
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import JobFailedError, SwapflowConnectionError, SwapflowError, WaitTimeoutError
from .models import TERMINAL, Batch, Job, JobError, Output, Upload

__all__ = [
    "TERMINAL",
    "Batch",
    "Client",
    "Job",
    "JobError",
    "JobFailedError",
    "Output",
    "Response",
    "SwapflowConnectionError",
    "SwapflowError",
    "Upload",
    "WaitTimeoutError",
]

# Files up to this size go inline as data: URIs (base64 adds a third: two of them stay far under the
# 10 MB request limit); larger ones are uploaded first.
INLINE_LIMIT = 2 * 1024 * 1024
MAX_RETRY_AFTER = 30.0
Image = str | bytes | os.PathLike[str]
Progress = Callable[[Job, float], None]

_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def default_base_url() -> str:
    """SWAPFLOW_API_URL, else the local stack on SWAPFLOW_PORT (8000)."""
    return os.environ.get("SWAPFLOW_API_URL") or f"http://127.0.0.1:{os.environ.get('SWAPFLOW_PORT') or '8000'}"


def content_type_of(data: bytes, name: str = "") -> str:
    """The image type from the bytes' magic number, else from the file name."""
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


class Headers(dict[str, str]):
    """Response headers, looked up by any case (`headers["Retry-After"]`, `headers.get("location")`)."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in pairs)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass(frozen=True)
class Response:
    """One HTTP answer, whatever its status."""

    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


class Client:
    """Sync client of `/v1`; one instance per API key (thread-safe: it keeps no per-call state)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        inline_limit: int = INLINE_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_key = api_key if api_key is not None else os.environ.get("SWAPFLOW_API_KEY")
        self.base_url = (base_url or default_base_url()).rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.inline_limit = inline_limit
        self._sleep = sleep

    # ---- HTTP ---------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Response:
        """One call as it is (no retry, no raising on 4xx/5xx): JSON bodies are encoded, bytes sent as they are."""
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        request = urllib.request.Request(url, data=data, method=method.upper())
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        return _send(request, self.timeout)

    def call(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        """The call's JSON; an error answer raises SwapflowError; 429 is retried after its Retry-After."""
        attempt = 0
        while True:
            response = self.request(method, path, body, headers)
            if response.status < 400:
                return response.json()
            error = _api_error(response)
            if response.status != 429 or attempt >= self.max_retries:
                raise error
            attempt += 1
            self._sleep(min(error.retry_after or 1.0, MAX_RETRY_AFTER))

    # ---- images -------------------------------------------------------------------------------------

    def upload(self, image: Image, *, filename: str | None = None, content_type: str | None = None) -> Upload:
        """Put a local file, bytes or a URL's content into the input bucket; use `.image_ref` as a job input."""
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            data, name = fetch(image, self.timeout), Path(urllib.parse.urlsplit(image).path).name
        elif isinstance(image, bytes):
            data, name = image, "image"
        else:
            path = _existing(image)
            data, name = path.read_bytes(), path.name
        ctype = content_type or content_type_of(data, filename or name)
        created = Upload.from_dict(
            self.call(
                "POST",
                "/v1/uploads",
                {"filename": filename or name or "image", "content_type": ctype, "size": len(data)},
            )
        )
        put = urllib.request.Request(created.url, data=data, method="PUT")  # presigned: no API key
        for name_, value in created.headers.items():
            put.add_header(name_, value)
        answer = _send(put, self.timeout)
        if answer.status >= 300:
            raise SwapflowError(
                "upload_failed", f"the presigned PUT answered HTTP {answer.status}", status=answer.status
            )
        return created

    def image(self, image: Image) -> str:
        """A job input for `image`: URLs, data: URIs and refs as they are; files and bytes inline or uploaded."""
        if isinstance(image, str) and image.startswith(("https://", "http://", "data:", "upload:", "s3://")):
            return image
        data = image if isinstance(image, bytes) else _existing(image).read_bytes()
        if len(data) > self.inline_limit:
            return self.upload(data, filename=None if isinstance(image, bytes) else Path(image).name).image_ref
        ctype = content_type_of(data, "" if isinstance(image, bytes) else str(image))
        return f"data:{ctype};base64,{base64.b64encode(data).decode()}"

    # ---- jobs ---------------------------------------------------------------------------------------

    def submit(self, source: Image, target: Image, *, idempotency_key: str | None = None, **options: Any) -> Job:
        """`POST /v1/jobs`: the accepted job (status `queued`), or the finished one when `wait=` ended in time.

        `options` are the request's other fields: provider, face_enhance, target_index, output_format,
        metadata, webhook_url, enable_base64_output, single_face_mode, faces, wait.
        """
        body = {"source_image": self.image(source), "target_image": self.image(target), **options}
        if "faces" in options:
            body["faces"] = [self._with_images(face) for face in options["faces"]]
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return Job.from_dict(self.call("POST", "/v1/jobs", body, headers))

    def get(self, job_id: str) -> Job:
        return Job.from_dict(self.call("GET", f"/v1/jobs/{urllib.parse.quote(job_id)}"))

    def cancel(self, job_id: str) -> Job:
        """The job, now `cancelled`; SwapflowError `conflict` (409) when it had already ended."""
        return Job.from_dict(self.call("POST", f"/v1/jobs/{urllib.parse.quote(job_id)}/cancel"))

    def delete(self, job_id: str, *, cancel: bool = False) -> dict[str, Any]:
        """Delete a job's photos and outputs (a running job only with `cancel`): its tombstone."""
        return dict(self.call("DELETE", f"/v1/jobs/{job_id}" + ("?cancel=true" if cancel else "")) or {})

    def delete_batch(self, batch_id: str, *, cancel: bool = False) -> dict[str, Any]:
        """Delete every job of a batch or manifest, as `delete` does for one."""
        return dict(self.call("DELETE", f"/v1/batches/{batch_id}" + ("?cancel=true" if cancel else "")) or {})

    def wait(
        self, job: Job | str, *, timeout: float = 300.0, interval: float = 0.5, progress: Progress | None = None
    ) -> Job:
        """Poll until the job ends (whatever its end); `progress(job, elapsed_seconds)` after every poll."""
        job_id = job.id if isinstance(job, Job) else job
        current = job if isinstance(job, Job) and job.terminal and job.raw.get("outputs") is not None else None
        started = time.monotonic()
        while True:
            current = current or self.get(job_id)
            elapsed = time.monotonic() - started
            if progress:
                progress(current, elapsed)
            if current.terminal:
                return current
            if elapsed > timeout:
                raise WaitTimeoutError(current, timeout)
            self._sleep(interval)
            current = None

    def swap(
        self,
        source: Image,
        target: Image,
        *,
        progress: Progress | None = None,
        timeout: float = 300.0,
        interval: float = 0.5,
        **options: Any,
    ) -> Job:
        """Submit and wait: the completed job, or JobFailedError carrying the job's error code."""
        accepted = self.submit(source, target, **options)
        job = self.wait(accepted, timeout=timeout, interval=interval, progress=progress)
        if job.status != "completed":
            raise JobFailedError(job)
        return job

    def list(self, *, status: str | None = None, page_size: int = 20, limit: int | None = None) -> Iterator[Job]:
        """The caller's jobs, newest first, following `next_cursor` across pages (at most `limit` jobs)."""
        cursor: str | None = None
        seen = 0
        while True:
            jobs, cursor = self.list_page(status=status, limit=page_size, cursor=cursor)
            for job in jobs:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield job
            if not cursor:
                return

    def list_page(
        self, *, status: str | None = None, limit: int = 20, cursor: str | None = None
    ) -> tuple[builtins.list[Job], str | None]:
        """One page of `GET /v1/jobs`: (jobs, next_cursor)."""
        query = {k: v for k, v in {"status": status, "limit": str(limit), "cursor": cursor}.items() if v}
        page = self.call("GET", "/v1/jobs?" + urllib.parse.urlencode(query))
        return [Job.from_dict(j) for j in page.get("jobs", [])], page.get("next_cursor")

    def download(self, job: Job | Output, path: str | os.PathLike[str] | None = None) -> bytes:
        """The output's bytes (through its presigned URL, no key), also written to `path` when given."""
        output = job.output if isinstance(job, Job) else job
        if output is None or not (output.url or output.base64):
            raise SwapflowError("no_output", "the job has no output (yet)")
        data = base64.b64decode(output.base64) if output.base64 else fetch(str(output.url), self.timeout)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)
        return data

    # ---- batches ------------------------------------------------------------------------------------

    def batch(self, jobs: Iterable[Mapping[str, Any]], *, defaults: Mapping[str, Any] | None = None) -> Batch:
        """`POST /v1/batches`: up to 1,000 job requests, accepted all or nothing (images as in `submit`)."""
        body: dict[str, Any] = {"jobs": [self._with_images(j) for j in jobs]}
        if defaults:
            body["defaults"] = self._with_images(defaults)
        return Batch.from_dict(self.call("POST", "/v1/batches", body))

    def get_batch(self, batch_id: str, *, page_size: int = 1000) -> Batch:
        """The batch with every one of its jobs: `GET /v1/batches/{id}` page after page."""
        path = f"/v1/batches/{urllib.parse.quote(batch_id)}?limit={page_size}"
        data = dict(self.call("GET", path) or {})
        jobs = list(data.get("jobs") or ())
        while data.get("next_token"):
            data = dict(self.call("GET", f"{path}&next_token={urllib.parse.quote(data['next_token'])}") or {})
            jobs.extend(data.get("jobs") or ())
        return Batch.from_dict({**data, "jobs": jobs})

    def cancel_batch(self, batch_id: str) -> Batch:
        """`POST /v1/batches/{id}/cancel`: every job not yet ended is cancelled (SwapflowError `batch_ended`
        if all had ended without a cancel)."""
        return Batch.from_dict(self.call("POST", f"/v1/batches/{urllib.parse.quote(batch_id)}/cancel"))

    def _with_images(self, request: Mapping[str, Any]) -> dict[str, Any]:
        fields = ("source_image", "target_image")
        return {k: self.image(v) if k in fields else v for k, v in request.items()}


def _existing(image: Any) -> Path:
    path = Path(image)
    if not path.is_file():
        raise SwapflowError("no_such_file", f"{image}: no such file (give a local image, an https URL or a data: URI)")
    return path


def _send(request: urllib.request.Request, timeout: float) -> Response:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Response(resp.status, Headers(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, Headers(err.headers.items()), err.read())
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SwapflowConnectionError(
            "connection_error", f"cannot reach {request.full_url.split('?')[0]}: {reason}"
        ) from exc


def fetch(url: str, timeout: float = 60.0) -> bytes:
    """GET a URL without the API key (presigned outputs, images to upload): its bytes, or SwapflowError."""
    response = _send(urllib.request.Request(url), timeout)
    if response.status >= 300:
        raise SwapflowError(
            "download_failed", f"GET {url.split('?')[0]} answered HTTP {response.status}", status=response.status
        )
    return response.body


def _api_error(response: Response) -> SwapflowError:
    payload = response.json()
    error = payload.get("error") if isinstance(payload, dict) else None
    retry_after = response.headers.get("retry-after")
    try:
        wait = float(retry_after) if retry_after else None
    except ValueError:
        wait = None
    if isinstance(error, dict):
        return SwapflowError(
            str(error.get("code")),
            str(error.get("message")),
            status=response.status,
            field=error.get("field"),
            body=payload,
            retry_after=wait,
        )
    message = payload.get("message") if isinstance(payload, dict) else None
    return SwapflowError(
        f"http_{response.status}",
        str(message or response.body[:200].decode(errors="replace") or "no body"),
        status=response.status,
        body=payload,
        retry_after=wait,
    )
