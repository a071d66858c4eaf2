"""One version: the package metadata, `swapflow --version` and the OpenAPI info all say swapflow.__version__."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import swapflow
from swapflow.api_spec import openapi_document

ROOT = Path(__file__).resolve().parents[2]


def test_given_the_installed_package_when_its_version_is_read_then_it_is_the_module_version() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", swapflow.__version__)
    assert version("swapflow") == swapflow.__version__


def test_given_the_cli_when_asked_for_its_version_then_it_prints_the_module_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "swapflow.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"swapflow {swapflow.__version__}"


def test_given_the_openapi_document_when_read_then_info_carries_the_module_version() -> None:
    assert openapi_document()["info"]["version"] == swapflow.__version__


def test_given_the_changelog_when_read_then_it_has_an_entry_for_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{swapflow.__version__}]" in changelog
    assert (ROOT / "LICENSE").read_text().lstrip().startswith("Apache License")
