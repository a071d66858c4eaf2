"""The Lambda zip assets bundle without Docker, from the lock file, for the functions' architecture,
and fit Lambda's 250 MB unzipped limit with room to spare."""

from __future__ import annotations

import os
import tomllib
from email.parser import Parser
from pathlib import Path

import pytest

from infra.bundling import LOCK, PROVIDED_BY_RUNTIME, EngineBundler, LockedBundler, locked_requirements

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
MARGIN = 0.8  # a bundle may use at most 80% of the limit: one dependency bump must not break a deploy
ELF_MACHINE_AARCH64 = 0xB7

pytestmark = pytest.mark.skipif(os.environ.get("SWAPFLOW_OFFLINE") == "1", reason="needs PyPI")


def size_of(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def bundled_versions(root: Path) -> dict[str, str]:
    """{distribution: version} of what the bundle holds, read from its dist-info METADATA."""
    found = {}
    for metadata in root.glob("*.dist-info/METADATA"):
        headers = Parser().parsestr(metadata.read_text(errors="replace"), headersonly=True)
        found[normalise(headers["Name"])] = headers["Version"]
    return found


def locked_versions() -> set[tuple[str, str]]:
    return {(normalise(p["name"]), p.get("version", "")) for p in tomllib.loads(LOCK.read_text())["package"]}


def elf_machines(root: Path) -> set[int]:
    """The CPU (ELF e_machine) of every native library in the bundle."""
    machines = set()
    for lib in root.rglob("*.so*"):
        head = lib.read_bytes()[:20] if lib.is_file() else b""
        if head[:4] == b"\x7fELF":
            machines.add(int.from_bytes(head[18:20], "little"))
    return machines


def assert_exactly_locked(root: Path, extras: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    bundled = bundled_versions(root)
    exported = {
        normalise(line.split("==")[0]): line.split("==")[1].split()[0]
        for line in locked_requirements(extras, exclude).splitlines()
        if "==" in line and not line.startswith(("#", " "))
    }
    assert bundled == exported  # every locked package of the closure, and nothing else
    assert set(bundled.items()) <= locked_versions()  # at the versions uv.lock pins
    assert not set(bundled) & {normalise(n) for n in exclude}


def test_given_the_api_functions_when_bundled_then_exactly_the_locked_set_for_arm64_small_and_importable(
    tmp_path,
) -> None:
    assert LockedBundler().try_bundle(str(tmp_path)) is True
    assert (tmp_path / "swapflow" / "handlers" / "api.py").is_file()
    assert (tmp_path / "aws_lambda_powertools").is_dir() and (tmp_path / "aws_xray_sdk").is_dir()
    # The API's models: pydantic and its native core, built for the functions' architecture like the rest.
    assert (tmp_path / "pydantic").is_dir() and list(tmp_path.glob("pydantic_core/_pydantic_core*.so"))
    assert not (tmp_path / "swapflow" / "engine").exists()
    assert not (tmp_path / "cv2").exists() and not (tmp_path / "boto3").exists()
    assert (tmp_path / "c2pa" / "libs" / "libc2pa_c.so").is_file()  # every output is signed in this bundle
    assert not list((tmp_path / "c2pa" / "libs").glob("*.rlib"))  # the static library is not shipped
    assert_exactly_locked(tmp_path, (), PROVIDED_BY_RUNTIME)
    assert elf_machines(tmp_path) == {ELF_MACHINE_AARCH64}  # pillow, cryptography: Graviton builds
    assert size_of(tmp_path) < 80 * 1024 * 1024


def test_given_the_engine_when_bundled_then_it_ships_its_models_and_locked_arm64_wheels_under_the_limit(
    tmp_path,
) -> None:
    bundler = EngineBundler()
    assert bundler.try_bundle(str(tmp_path)) is True
    assert (tmp_path / "swapflow" / "engine" / "models").is_dir()
    assert any((tmp_path / "swapflow" / "engine" / "models").glob("*.tflite"))
    assert (tmp_path / "cv2").is_dir() and (tmp_path / "numpy").is_dir()
    assert not (tmp_path / "cryptography").exists()
    assert_exactly_locked(tmp_path, bundler.extras, bundler.exclude)
    assert elf_machines(tmp_path) == {ELF_MACHINE_AARCH64}
    assert size_of(tmp_path) < MARGIN * LAMBDA_UNZIPPED_LIMIT
