"""Provenance on every output: XMP with the IPTC digital source type, and signed C2PA Content Credentials.

Written once, where outputs are archived (JobService._archive), so the archive, the presigned URLs,
base64 answers and manifest outboxes all hold exactly the marked bytes, and the job's `sha256` is theirs.

Which IPTC digital source type (http://cv.iptc.org/newscodes/digitalsourcetype/):
- `engine`: `composite` ("mix or composite of several elements"): the offline engine cuts the source
  face, warps it onto the target by landmarks and blends it with colour transfer. No trained model
  makes any pixel (its face-mesh model only locates faces), so the generative-AI terms would be
  false; `compositeCapture` would claim both inputs are camera captures, which we cannot know;
  `algorithmicallyEnhanced` is for edits that leave the main content unchanged, which a swap does not.
- every hosted provider (Akool, WaveSpeed): `compositeWithTrainedAlgorithmicMedia` (a real photo
  combined with elements a trained generative model produced): their face-swap models synthesise
  the new face region.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import __version__
from . import credentials, xmp
from .keys import SigningKey

__all__ = ["IPTC_DIGITAL_SOURCE_TYPE", "OutputFacts", "Provenance", "digital_source_type"]

IPTC_DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
CLASSICAL_COMPOSITE = IPTC_DIGITAL_SOURCE_TYPE + "composite"
TRAINED_COMPOSITE = IPTC_DIGITAL_SOURCE_TYPE + "compositeWithTrainedAlgorithmicMedia"


def digital_source_type(provider: str) -> str:
    """IPTC's word for how the output was made: a trained model, or the classical engine (its spec says)."""
    from ..providers.registry import SPECS

    spec = SPECS.get(provider)
    return CLASSICAL_COMPOSITE if spec is not None and not spec.trained else TRAINED_COMPOSITE


@dataclass(frozen=True)
class OutputFacts:
    """What an output says about itself; hashes of the inputs, never the inputs."""

    job_id: str
    provider: str
    content_type: str
    width: int
    height: int
    title: str
    source: tuple[str, str] | None = None  # (content type, sha256) of the face
    target: tuple[str, str] | None = None  # (content type, sha256) of the photo it went into


class Provenance:
    """Marks output bytes: XMP first, then the C2PA manifest whose hash binding covers the result."""

    def __init__(self, signing_key: Callable[[], SigningKey], *, version: str = __version__) -> None:
        self.signing_key = signing_key
        self.version = version

    def mark(self, data: bytes, facts: OutputFacts) -> bytes:
        source_type = digital_source_type(facts.provider)
        packet = xmp.packet(
            digital_source_type=source_type,
            creator_tool=f"swapflow {self.version}",
            job_id=facts.job_id,
            provider=facts.provider,
        )
        labelled = xmp.embed(data, facts.content_type, packet, width=facts.width, height=facts.height)
        ingredients = [
            credentials.Ingredient(title, image[0], image[1], relationship, label)
            for title, image, relationship, label in (
                ("target_image", facts.target, "parentOf", "target"),
                ("source_image", facts.source, "componentOf", "source"),
            )
            if image is not None and image[1]
        ]
        manifest = credentials.manifest_definition(
            title=facts.title,
            content_type=facts.content_type,
            digital_source_type=source_type,
            version=self.version,
            job_id=facts.job_id,
            provider=facts.provider,
            ingredients=ingredients,
        )
        return credentials.sign(labelled, facts.content_type, manifest, self.signing_key())
