"""Docker-free bundling of the Lambda zip assets.

pip installs manylinux wheels for the Lambda runtime (python3.12, x86_64) straight into the asset
folder and copies the `swapflow` package beside them. No Docker, so `cdk deploy` works on a laptop.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
RUNTIME_REQUIREMENTS = [
    "aws-lambda-powertools>=3.0",
    "urllib3>=2.0",
    "pillow>=10.4",
    "cryptography>=42",
    "c2pa-python==0.38.1",
]
# Only the light bundle signs outputs (the finisher) or decrypts webhooks: the engine bundle is near 250 MB.
LIGHT_ONLY = ("cryptography", "c2pa-python")
# c2pa-python ships its Rust static library (31 MB) beside the shared one it loads: not needed to run.
UNUSED_FILES = ("c2pa/libs/*.rlib", "c2pa/libs/*.d")


@jsii.implements(ILocalBundling)
class PipBundler:
    def __init__(self, requirements: list[str]) -> None:
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: Any = None, **_: Any) -> bool:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-compile",
                "--platform",
                "manylinux2014_x86_64",
                "--platform",
                "manylinux_2_28_x86_64",
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                "3.12",
                "--target",
                output_dir,
                *self.requirements,
            ],
            check=True,
        )
        for pattern in UNUSED_FILES:
            for unused in Path(output_dir).glob(pattern):
                unused.unlink()
        shutil.copytree(
            FUNCTIONS / "swapflow",
            Path(output_dir) / "swapflow",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "sim", "engine"),
        )
        return True


def function_code(requirements: list[str] | None = None, *, with_engine: bool = False) -> lambda_.Code:
    # The engine never decrypts provider webhooks nor signs outputs: leave those out of its (large) bundle.
    base = [r for r in RUNTIME_REQUIREMENTS if not (with_engine and r.startswith(LIGHT_ONLY))]
    reqs = [*base, *(requirements or [])]
    bundler = EngineBundler(reqs) if with_engine else PipBundler(reqs)
    return lambda_.Code.from_asset(
        str(FUNCTIONS),
        exclude=["**/__pycache__", "*.egg-info"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=bundler,
            # Part of the asset hash: the engine bundle and the light bundle must not be shared.
            command=["bash", "-c", f"echo local bundling only: {' '.join(reqs)} && exit 1"],
        ),
    )


@jsii.implements(ILocalBundling)
class EngineBundler(PipBundler):
    """The engine Lambda also ships swapflow.engine and its native dependencies."""

    def try_bundle(self, output_dir: str, *, image: Any = None, **kw: Any) -> bool:
        super().try_bundle(output_dir, image=image, **kw)
        for tests in Path(output_dir).glob("*/tests"):  # numpy and friends ship their test suites
            shutil.rmtree(tests, ignore_errors=True)
        shutil.copytree(
            FUNCTIONS / "swapflow" / "engine",
            Path(output_dir) / "swapflow" / "engine",
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        return True
