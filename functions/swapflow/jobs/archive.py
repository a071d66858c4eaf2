"""Archiving a provider's outputs: fetched, conformed to the asked format, marked (C2PA), stored once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..images import EXTENSIONS
from ..providers.base import ProviderOutput
from .exceptions import RequestInvalidError
from .inputs import InputLoader
from .models import Job, Output, StoredImage
from .ports import BlobStore, OutputMarker

if TYPE_CHECKING:
    from ..provenance import OutputFacts


@dataclass(eq=False, kw_only=True)
class OutputArchive:
    blobs: BlobStore
    inputs: InputLoader
    bucket: str
    # Provenance (swapflow.provenance): every archived output is marked before it is written.
    marker: OutputMarker | None = None

    @staticmethod
    def key(job: Job, index: int) -> str:
        """Where output `index` of a job is archived, without its extension."""
        return f"outputs/{job.tenant}/{job.id}/{index}"

    def archive(self, job: Job, index: int, out: ProviderOutput, staged: bytes | None = None) -> Output:
        """Raises OutputRefusedError when the provider's bytes are not an image we may serve. `staged`: the
        bytes at the output's S3 location, when the caller has just written them (the engine)."""
        if staged is not None and out.bucket and out.key:
            data = staged
        elif out.bucket and out.key:
            data = self.blobs.get(out.bucket, out.key)
        elif out.url:
            data = self.inputs.fetch_output(out.url)
        else:
            raise RequestInvalidError("internal", "provider output has neither a URL nor an S3 location")
        from .. import images

        original = data
        data, info, note = images.conform(data, self.inputs.sniff(data), job.spec.output_format)
        if self.marker is not None:
            data = self.marker.mark(data, _output_facts(job, index, info.content_type, info.width, info.height))
        key = f"{self.key(job, index)}.{EXTENSIONS.get(info.content_type, 'bin')}"
        # The engine writes its output in place: put it again only when conforming or marking changed it.
        if (out.bucket, out.key) != (self.bucket, key) or data != original:
            self.blobs.put(self.bucket, key, data, info.content_type)
        return Output(
            bucket=self.bucket,
            key=key,
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            note=note,
            nsfw=out.nsfw,
        )


def _output_facts(job: Job, index: int, content_type: str, width: int, height: int) -> OutputFacts:
    from ..provenance import OutputFacts

    def ref(image: StoredImage) -> tuple[str, str]:
        return image.content_type, image.sha256

    return OutputFacts(
        job_id=job.id,
        provider=job.provider,
        content_type=content_type,
        width=width,
        height=height,
        title=f"{job.id}/{index}.{EXTENSIONS.get(content_type, 'bin')}",
        source=ref(job.spec.source_image),
        target=ref(job.spec.target_image),
    )
