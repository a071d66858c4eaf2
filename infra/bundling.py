"""Docker-free bundling of the Lambda zip assets, from the lock file.

`uv export` takes the locked runtime set (uv.lock: exact versions and hashes) and `uv pip install`
puts it, hashes checked, as manylinux wheels for the functions' runtime and architecture into the
asset folder, then the `swapflow` package is copied beside them. No Docker, so `cdk deploy` works on a
laptop, and a deploy ships exactly what the tests ran against.

Left out: the AWS SDK (boto3, botocore, s3transfer), which the Lambda runtime provides (bundling it
would cost the engine ~25 MB of its 250 MB); and, in the engine, cryptography (it never decrypts
provider webhooks).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LOCK = ROOT / "uv.lock"
# The functions' runtime and architecture (infra/constructs/functions.py uses these).
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = "3.13"
# Lambda's python3.12+ runtimes are Amazon Linux 2023: glibc 2.34.
PLATFORMS = {"arm64": "aarch64-manylinux_2_34", "x86_64": "x86_64-manylinux_2_34"}
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")
# Only the light bundle signs outputs (the finisher) or decrypts webhooks: the engine bundle is near 250 MB.
ENGINE_LEAVES_OUT = ("cryptography", "cffi", "pycparser", "c2pa-python")
# c2pa-python ships its Rust static library (31 MB) beside the shared one it loads: not needed to run.
UNUSED_FILES = ("c2pa/libs/*.rlib", "c2pa/libs/*.d")


def uv(*args: str) -> list[str]:
    """uv from this environment (a dev dependency, locked like everything else)."""
    return [sys.executable, "-m", "uv", *args]


def locked_requirements(extras: tuple[str, ...] = (), exclude: tuple[str, ...] = PROVIDED_BY_RUNTIME) -> str:
    """The locked closure of the runtime dependencies (+ extras) as a hashed requirements file."""
    args = ["export", "--frozen", "--no-dev", "--no-emit-project", "--quiet", "--project", str(ROOT)]
    for extra in extras:
        args += ["--extra", extra]
    for name in exclude:
        args += ["--no-emit-package", name]
    return subprocess.run(uv(*args), check=True, capture_output=True, text=True).stdout


@jsii.implements(ILocalBundling)
class LockedBundler:
    def __init__(
        self,
        extras: tuple[str, ...] = (),
        exclude: tuple[str, ...] = PROVIDED_BY_RUNTIME,
        architecture: str = ARCHITECTURE.name,
    ) -> None:
        self.extras = extras
        self.exclude = exclude
        self.platform = PLATFORMS[architecture]

    def try_bundle(self, output_dir: str, *, image: Any = None, **_: Any) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text(locked_requirements(self.extras, self.exclude))
            subprocess.run(
                uv(
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",  # the export is the whole closure: nothing beyond it, nothing unpinned
                    "--require-hashes",
                    "--only-binary",
                    ":all:",
                    "--python-platform",
                    self.platform,
                    "--python-version",
                    PYTHON_VERSION,
                    "--target",
                    output_dir,
                    "-r",
                    str(requirements),
                ),
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


@jsii.implements(ILocalBundling)
class EngineBundler(LockedBundler):
    """The engine Lambda also ships swapflow.engine and its native dependencies (the `engine` extra)."""

    def __init__(self, architecture: str = ARCHITECTURE.name) -> None:
        super().__init__(("engine",), (*PROVIDED_BY_RUNTIME, *ENGINE_LEAVES_OUT), architecture)

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


def function_code(*, with_engine: bool = False) -> lambda_.Code:
    bundler = EngineBundler() if with_engine else LockedBundler()
    lock_digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    return lambda_.Code.from_asset(
        str(FUNCTIONS),
        exclude=["**/__pycache__", "*.egg-info"],
        bundling=BundlingOptions(
            image=DockerImage.from_registry(f"public.ecr.aws/sam/build-python{PYTHON_VERSION}"),
            local=bundler,
            # Part of the asset hash: the engine and light bundles differ, and a new lock is a new asset.
            command=[
                "bash",
                "-c",
                f"echo local bundling only: {bundler.platform} {'+'.join(bundler.extras) or 'base'} "
                f"uv.lock {lock_digest} && exit 1",
            ],
        ),
    )
