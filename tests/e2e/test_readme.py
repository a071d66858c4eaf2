"""The README's examples run as pasted: every block marked `<!-- runnable -->` runs against a local stack.

Shell blocks run in order in one bash session (as a user pastes them into one terminal, so variables
and files carry over), Python blocks each in their own interpreter, all from a scratch folder that
has the repo's `tests/` and `.venv/` (the README's commands are written for the repo root). The only
changes: the stack's own port and key stand in for `make up`'s defaults (8000, 4566,
`sf_local_dev_key`), and SWAPFLOW_PORT / SWAPFLOW_API_KEY say the same to the CLI's defaults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- runnable -->\n```(sh|bash|python)\n(.*?)\n```", re.S)


def runnable_blocks() -> list[tuple[str, str]]:
    return [(lang, code) for lang, code in BLOCK.findall((ROOT / "README.md").read_text())]


def for_stack(code: str, stack) -> str:
    return (
        code.replace("http://127.0.0.1:8000", stack.api_url)
        .replace("http://127.0.0.1:4566", stack.aws_endpoint)
        .replace("sf_local_dev_key", stack.api_key)
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("tests", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


def env_for(stack) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWAPFLOW_", "AWS_"))}
    return env | {"SWAPFLOW_PORT": str(urlsplit(stack.api_url).port), "SWAPFLOW_API_KEY": stack.api_key}


def test_GIVEN_the_readme_WHEN_its_examples_are_listed_THEN_the_main_paths_are_covered() -> None:
    blocks = runnable_blocks()
    text = "\n".join(code for _, code in blocks)
    assert [lang for lang, _ in blocks].count("python") >= 2
    for command in ("-d @body.json", "/v1/uploads", "swapflow keys create", "swapflow swap", "Client("):
        assert command in text, command


def test_GIVEN_a_local_stack_WHEN_the_readmes_shell_examples_run_THEN_each_succeeds(stack, workdir: Path) -> None:
    script = "\n".join(for_stack(code, stack) for lang, code in runnable_blocks() if lang in ("sh", "bash"))

    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=workdir,
        env=env_for(stack),
        capture_output=True,
        text=True,
        timeout=240,
    )

    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert '"status": "completed"' in done.stdout  # the sync-mode answer
    assert '"code": "conflict"' in done.stdout or '"status": "cancelled"' in done.stdout
    assert "API key for tenant acme" in done.stdout
    assert (workdir / "out" / "group.png").read_bytes()[:4] == b"\x89PNG"
    assert list((workdir / "out").glob("*.jpg")), "the first swap saved no output"
    assert (workdir / "openapi.json").stat().st_size > 1000


@pytest.mark.parametrize("index", [i for i, (lang, _) in enumerate(runnable_blocks()) if lang == "python"])
def test_GIVEN_a_local_stack_WHEN_a_readme_python_example_runs_THEN_it_succeeds(
    stack, workdir: Path, index: int
) -> None:
    (workdir / "out").mkdir()
    code = for_stack(runnable_blocks()[index][1], stack)

    done = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, env=env_for(stack), capture_output=True, text=True, timeout=240
    )

    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert done.stdout.strip(), "the example printed nothing"
