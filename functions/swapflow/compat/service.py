"""The drop-in surfaces' use cases: WaveSpeed and Akool requests run as ordinary swapflow jobs.

The handlers (handlers/compat_wavespeed.py, handlers/compat_akool.py) parse the HTTP event and pick
the envelope; this module creates and reads the jobs (through the job intake and queries, as the
native API does), stores uploaded bytes, and runs Akool's face detection.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..jobs.exceptions import JobNotFoundError, RequestInvalidError
from ..jobs.inputs import InputLoader
from ..jobs.intake import JobIntake
from ..jobs.models import Job
from ..jobs.ports import BlobStore
from ..jobs.queries import MAX_BASE64_OUTPUT_BYTES, JobQueries
from ..jobs.uploads import UploadService
from ..settings import Settings
from . import akool, provider_for, wait_until_terminal, wavespeed
from .multipart import file_part


@dataclass(eq=False, kw_only=True)
class CompatService:
    settings: Settings
    intake: JobIntake
    queries: JobQueries
    inputs: InputLoader
    blobs: BlobStore
    uploads: Callable[[], UploadService]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def _create(self, tenant: str, model: str, native: Callable[[str], dict[str, Any]], by: str | None) -> Job:
        provider = provider_for(model, self.settings.compat_provider, self.settings.default_provider)
        return self.intake.create_job(tenant, self.intake.parse(native(provider)), submitted_by=by)

    # ---- WaveSpeed ----------------------------------------------------------------------------

    def wavespeed_submit(self, tenant: str, model: str, body: Any, *, webhook: str | None, by: str | None) -> Job:
        return self._create(
            tenant, model, lambda p: wavespeed.job_body(model, body, provider=p, webhook_url=webhook), by
        )

    def wavespeed_wait(self, tenant: str, job: Job, *, budget: float, base_url: str) -> dict[str, Any]:
        """Sync mode: the prediction once the job ended, or as it stands when the sync wait
        (SWAPFLOW_COMPAT_SYNC_WAIT_SECONDS, capped by the request's time `budget`) ran out."""
        waited = max(0.0, min(float(self.settings.compat_sync_wait_seconds), budget))
        fetch = lambda: self.queries.get_job(tenant, job.id)  # noqa: E731
        job = wait_until_terminal(fetch, waited, clock=self.clock, sleep=self.sleep)
        return self.prediction(job, base_url=base_url, sync_waited=waited)

    def wavespeed_result(self, tenant: str, job_id: str, *, base_url: str) -> dict[str, Any]:
        return self.prediction(self.queries.get_job(tenant, job_id), base_url=base_url)

    def prediction(self, job: Job, *, base_url: str, sync_waited: float | None = None) -> dict[str, Any]:
        """WaveSpeed's prediction. Base64 outputs (`enable_base64_output`) are data: URIs while their bytes
        fit MAX_BASE64_OUTPUT_BYTES in all (a Lambda response is capped at 6 MB); past it, the URL."""
        view = self.queries.view(job)
        outputs = None
        if job.spec.enable_base64_output and job.outputs:
            outputs, budget = [], MAX_BASE64_OUTPUT_BYTES
            for out, item in zip(job.outputs, view["outputs"], strict=True):
                data = self.queries.output_base64(job, out) if out.bytes <= budget else None
                budget -= out.bytes if data is not None else 0
                outputs.append(f"data:{out.content_type};base64,{data}" if data is not None else item.get("url", ""))
        return wavespeed.prediction(view, base_url=base_url, outputs=outputs, sync_waited=sync_waited)

    def upload_ticket(self, tenant: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise RequestInvalidError("invalid_request", "the request body must be a JSON object")
        filename = body.get("filename")
        content_type = body.get("content_type") or (mimetypes.guess_type(str(filename or ""))[0] if filename else None)
        upload = self.uploads().create(tenant, filename, content_type, body.get("size"))
        return wavespeed.upload_ticket(upload.native_view())

    def upload_binary(
        self, tenant: str, headers: Mapping[str, str], raw: bytes, filename: str | None
    ) -> dict[str, Any]:
        """Store the bytes WaveSpeed's SDK sends (multipart or raw) as the tenant's upload."""
        data, name, _declared = file_part({k.lower(): v for k, v in headers.items()}, raw, filename)
        if not data:
            raise RequestInvalidError("invalid_request", "the upload is empty", "file")
        info = self.inputs.check(data, "file")
        key, _ref = self.uploads().stored(tenant, name or "upload", info.content_type)
        self.blobs.put(self.inputs.input_bucket, key, data, info.content_type)
        url = self.blobs.presign_get(self.inputs.input_bucket, key, self.settings.presign_seconds)
        return {"type": "image", "download_url": url, "filename": key.rsplit("/", 1)[-1], "size": len(data)}

    # ---- Akool --------------------------------------------------------------------------------

    def akool_faceswap(self, tenant: str, body: Any, *, by: str | None) -> Job:
        request = akool.parse_faceswap(body)
        frame = None
        if request.needs_faces:
            frame = self.detect(request.targets[0].path, "targetImage", tenant, single_face=False)
        return self._create(tenant, akool.MODEL_NAME, lambda p: akool.job_body(request, provider=p, frame=frame), by)

    def akool_results(self, tenant: str, ids: list[str]) -> list[dict[str, Any]]:
        found = []
        for job_id in ids:
            try:
                found.append(akool.result_item(self.queries.view(self.queries.get_job(tenant, job_id))))
            except JobNotFoundError:
                continue  # Akool leaves unknown ids out of the result
        return found

    def detect(self, ref: str, field: str, tenant: str, *, single_face: bool) -> dict[str, Any]:
        """Akool's detection of the image's faces (the offline engine's detector)."""
        from ..engine import EngineError, akool_detect_response

        image = self.inputs.load(ref, field, tenant)
        try:
            frame: dict[str, Any] = akool_detect_response(image, single_face)["0"]
        except EngineError as exc:
            raise RequestInvalidError("invalid_image", f"{field}: {exc.message}", field) from exc
        return frame
