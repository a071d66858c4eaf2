"""The Lambda zip assets bundle without Docker and fit Lambda's 250 MB unzipped limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from infra.bundling import LIGHT_ONLY, RUNTIME_REQUIREMENTS, EngineBundler, PipBundler
from infra.constructs.engine import ENGINE_REQUIREMENTS

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024

pytestmark = pytest.mark.skipif(os.environ.get("SWAPFLOW_OFFLINE") == "1", reason="needs PyPI")


def size_of(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_given_the_api_functions_when_bundled_locally_then_the_zip_is_small_and_importable(tmp_path) -> None:
    assert PipBundler(list(RUNTIME_REQUIREMENTS)).try_bundle(str(tmp_path)) is True
    assert (tmp_path / "swapflow" / "handlers" / "api.py").is_file()
    assert (tmp_path / "aws_lambda_powertools").is_dir()
    assert not (tmp_path / "swapflow" / "engine").exists()
    assert not (tmp_path / "cv2").exists()
    assert (tmp_path / "c2pa" / "libs" / "libc2pa_c.so").is_file()  # every output is signed in this bundle
    assert not list((tmp_path / "c2pa" / "libs").glob("*.rlib"))  # the static library is not shipped
    assert size_of(tmp_path) < 80 * 1024 * 1024


def test_given_the_engine_when_bundled_locally_then_it_ships_its_models_under_the_limit(tmp_path) -> None:
    reqs = [r for r in RUNTIME_REQUIREMENTS if not r.startswith(LIGHT_ONLY)] + ENGINE_REQUIREMENTS
    assert EngineBundler(reqs).try_bundle(str(tmp_path)) is True
    assert (tmp_path / "swapflow" / "engine" / "models").is_dir()
    assert any((tmp_path / "swapflow" / "engine" / "models").glob("*.tflite"))
    assert (tmp_path / "cv2").is_dir() and (tmp_path / "numpy").is_dir()
    assert size_of(tmp_path) < LAMBDA_UNZIPPED_LIMIT
