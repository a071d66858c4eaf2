"""Provenance: XMP read back by Pillow's own XMP reader (defusedxml), C2PA read back by the C2PA reader."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image
from swapflow.provenance import CLASSICAL_COMPOSITE, TRAINED_COMPOSITE, OutputFacts, Provenance, credentials
from swapflow.provenance.keys import CA_FILE, DirectoryKeyStore, SecretKeyStore, SigningKey

FORMATS = [("JPEG", "image/jpeg", "RGB"), ("PNG", "image/png", "RGBA"), ("WEBP", "image/webp", "RGB")]


def _image(fmt: str, mode: str) -> bytes:
    buf = io.BytesIO()
    img = Image.new(mode, (64, 48), (200, 120, 40) if mode == "RGB" else (200, 120, 40, 128))
    img.putpixel((3, 4), (0, 0, 0) if mode == "RGB" else (0, 0, 0, 255))
    img.save(buf, fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


def _facts(mime: str, provider: str = "engine") -> OutputFacts:
    return OutputFacts(
        job_id="01JOBIDJOBIDJOBIDJOBIDJOBI",
        provider=provider,
        content_type=mime,
        width=64,
        height=48,
        title="01JOBIDJOBIDJOBIDJOBIDJOBI/0",
        source=("image/jpeg", hashlib.sha256(b"face").hexdigest()),
        target=("image/png", hashlib.sha256(b"photo").hexdigest()),
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DirectoryKeyStore:
    return DirectoryKeyStore(tmp_path_factory.mktemp("signing"))


@pytest.mark.parametrize(("fmt", "mime", "mode"), FORMATS)
@pytest.mark.parametrize(("provider", "source_type"), [("engine", CLASSICAL_COMPOSITE), ("akool", TRAINED_COMPOSITE)])
def test_given_an_output_when_marked_then_its_xmp_names_the_source_type_job_and_provider_and_pixels_are_unchanged(
    keys, fmt, mime, mode, provider, source_type
) -> None:
    original = _image(fmt, mode)

    marked = Provenance(keys.load).mark(original, _facts(mime, provider))

    image = Image.open(io.BytesIO(marked))
    description = image.getxmp()["xmpmeta"]["RDF"]["Description"]
    assert description["DigitalSourceType"] == source_type
    assert description["JobId"] == "01JOBIDJOBIDJOBIDJOBIDJOBI"
    assert description["Provider"] == provider
    assert description["CreatorTool"].startswith("swapflow ")
    assert image.tobytes() == Image.open(io.BytesIO(original)).tobytes()


@pytest.mark.parametrize(("fmt", "mime", "mode"), FORMATS)
def test_given_a_marked_output_when_read_by_the_c2pa_reader_then_trusted_with_ingredients_by_hash(
    keys, fmt, mime, mode
) -> None:
    marked = Provenance(keys.load).mark(_image(fmt, mode), _facts(mime))

    result = credentials.verify(marked, mime, (keys.directory / CA_FILE).read_bytes())

    assert result.state == "Trusted", result.failures
    summary = credentials.summary(result)
    assert summary["digital_source_type"] == CLASSICAL_COMPOSITE
    assert summary["actions"] == ["c2pa.opened", "c2pa.placed", "c2pa.edited"]
    assert summary["claim_generator"][0]["name"] == "swapflow"
    assert (summary["job_id"], summary["provider"]) == ("01JOBIDJOBIDJOBIDJOBIDJOBI", "engine")
    assert {i["instance_id"] for i in summary["ingredients"]} == {
        f"sha256:{hashlib.sha256(b'face').hexdigest()}",
        f"sha256:{hashlib.sha256(b'photo').hexdigest()}",
    }
    assert b"thumbnail" not in marked  # no copy of a face travels inside the output


@pytest.mark.parametrize(("fmt", "mime", "mode"), FORMATS)
def test_given_a_marked_output_when_one_byte_changes_then_the_credential_is_invalid(keys, fmt, mime, mode) -> None:
    marked = bytearray(Provenance(keys.load).mark(_image(fmt, mode), _facts(mime)))
    marked[len(marked) // 2] ^= 0x01

    result = credentials.verify(bytes(marked), mime, (keys.directory / CA_FILE).read_bytes())

    assert result.state == "Invalid"
    assert not result.intact


def test_given_an_unmarked_image_when_verified_then_missing() -> None:
    assert credentials.verify(_image("PNG", "RGB"), "image/png").state == "Missing"


def test_given_a_key_directory_when_loaded_twice_then_one_key_and_its_ca_for_verifiers(tmp_path: Path) -> None:
    first = DirectoryKeyStore(tmp_path / "k").load()
    second = DirectoryKeyStore(tmp_path / "k").load()

    assert first == second
    assert (tmp_path / "k" / CA_FILE).read_bytes() == first.ca_certificate
    assert first.certificate_chain.count(b"BEGIN CERTIFICATE") == 2


def test_given_an_empty_secret_when_loaded_then_a_key_is_generated_and_stored_and_then_reused() -> None:
    secret = {"value": "{}"}
    store = SecretKeyStore(read=lambda: secret["value"], write=lambda v: secret.update(value=v))

    key = store.load()

    assert SigningKey.from_json(secret["value"]) == key
    assert store.load() == key
