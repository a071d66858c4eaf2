"""The built-in offline engine as a provider.

Submitting invokes the engine Lambda asynchronously; the engine completes the job through the same
internal path a provider webhook uses (record result, wake the waiting step). Polling has nothing to
ask: the recorded result is the only source of truth, so `poll` reports running until it is there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..images import CONTENT_TYPES, EXTENSIONS
from ..jobs.models import SwapSpec
from ..jobs.validation import MAX_FACES
from ..settings import Settings, env_name
from . import base
from .exceptions import ProviderUnavailableError, WebhookRejectedError
from .spec import Capabilities, Clients, ProviderSpec


class EngineProvider:
    name = "engine"

    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self.lambda_client = lambda_client
        self.function_name = function_name

    def submit(self, request: base.SwapRequest) -> base.Submission:
        self.lambda_client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps({"job_id": request.job_id}).encode(),
        )
        return base.Submission(provider_job_id=f"engine-{request.job_id}")

    def poll(self, provider_job_id: str) -> base.ProviderResult:
        return base.ProviderResult(base.ProviderState.RUNNING)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> base.WebhookNotice:
        raise WebhookRejectedError("the engine has no webhook", status=404)

    def cancel(self, provider_job_id: str) -> bool:
        return False


def _build(spec: ProviderSpec, settings: Settings, clients: Clients) -> base.Provider:
    if not settings.engine_function:
        raise ProviderUnavailableError(spec.name, env_name("engine_function"))
    return EngineProvider(clients.lambda_client(), settings.engine_function)


PROVIDERS = (
    ProviderSpec(
        "engine",
        build=_build,
        capabilities=Capabilities(faces=MAX_FACES, target_index=True),
        internal_callback=True,
        trained=False,
        concurrency=16.0,
        fallback_rank=99,  # offline and always there: the last resort of `auto`
    ),
)


def run_engine(spec: SwapSpec, read: Any, write: Any, output_key: str) -> base.ProviderResult:
    """Swap the job's faces; `read(bucket, key)` and `write(key, data, content_type)` reach S3."""
    from ..engine import EngineError, Face, SwapOptions, swap

    try:
        source = read(spec.source_image.bucket, spec.source_image.key)
        target = read(spec.target_image.bucket, spec.target_image.key)
        faces = tuple(Face(read(f.source_image.bucket, f.source_image.key), f.target_face) for f in spec.faces)
        # A JPEG cannot keep the target's transparency: produce PNG and let the archiver flatten it on
        # white and say so in the output's note (images.conform), never a silent black background.
        fmt = "png" if spec.output_format == "jpeg" and _has_alpha(target) else spec.output_format
        out = swap(
            source,
            target,
            SwapOptions(
                target_index=spec.target_index,
                single_face_mode=spec.single_face_mode,
                face_enhance=spec.face_enhance,
                output_format=fmt,
                faces=faces,
            ),
        )
    except EngineError as exc:
        return base.ProviderResult(base.ProviderState.FAILED, failure=base.ProviderFailure(exc.code, exc.message))
    key = f"{output_key}.{EXTENSIONS.get(CONTENT_TYPES.get(fmt, ''), 'jpg')}"
    location = write(key, out.data, out.content_type)
    return base.ProviderResult(
        base.ProviderState.SUCCEEDED,
        outputs=(base.ProviderOutput(content_type=out.content_type, bucket=location[0], key=location[1]),),
    )


def _has_alpha(data: bytes) -> bool:
    from ..images import has_alpha

    try:
        return has_alpha(data)
    except Exception:  # not readable here: the engine's own decode reports it with its error code
        return False
