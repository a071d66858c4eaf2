from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "images"

try:  # the package may not be installed (pip install -e .[engine]); fall back to the source tree
    import swapflow.engine  # noqa: F401
except ModuleNotFoundError:
    sys.path.insert(0, str(ROOT / "functions"))


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="session")
def source_jpg() -> bytes:
    return _read("source.jpg")


@pytest.fixture(scope="session")
def target_jpg() -> bytes:
    return _read("target.jpg")


@pytest.fixture(scope="session")
def multi_jpg() -> bytes:
    return _read("multi.jpg")


@pytest.fixture(scope="session")
def noface_jpg() -> bytes:
    return _read("noface.jpg")


def pixels(data: bytes, mode: str = "RGB"):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert(mode)).astype(np.int16)
