"""The asked output format is the delivered one, and what it took is said (the engine on the local stack)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from swapflow.images import FLATTENED_NOTE

from infra.local.client import data_uri, download

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "images"


def transparent_border_png() -> str:
    """target.jpg with a fully transparent 40 px border, as a PNG data: URI."""
    image = Image.open(FIXTURES / "target.jpg").convert("RGBA")
    alpha = Image.new("L", image.size, 0)
    alpha.paste(255, (40, 40, image.width - 40, image.height - 40))
    image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def test_GIVEN_a_transparent_png_target_WHEN_jpeg_is_asked_THEN_the_border_is_white_and_the_job_says_so(stack) -> None:
    api = stack.client()
    accepted = api.submit({"source_image": data_uri(FIXTURES / "source.jpg"), "target_image": transparent_border_png()})
    job = api.wait(accepted["id"])

    assert job["status"] == "completed", job
    output = job["outputs"][0]
    assert output["content_type"] == "image/jpeg" and output["key"].endswith(".jpg")
    assert output["note"] == FLATTENED_NOTE
    result = Image.open(io.BytesIO(download(output["url"]))).convert("RGB")
    assert result.size == (512, 512)
    assert min(result.getpixel((10, 10))) > 245 and min(result.getpixel((500, 256))) > 245  # white, not black


def test_GIVEN_an_opaque_jpeg_WHEN_png_is_asked_THEN_the_engine_delivers_png_without_a_note(stack) -> None:
    api = stack.client()
    accepted = api.submit(
        {
            "source_image": data_uri(FIXTURES / "source.jpg"),
            "target_image": data_uri(FIXTURES / "target.jpg"),
            "output_format": "png",
        }
    )
    job = api.wait(accepted["id"])

    output = job["outputs"][0]
    assert output["content_type"] == "image/png" and "note" not in output
