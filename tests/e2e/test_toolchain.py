"""The toolchain the repo brings: synthesis runs on a supported Node even where the machine has Node 20."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_given_a_machine_with_only_its_own_node_when_the_app_is_synthesised_then_no_end_of_life_box(
    synthesis: tuple[str, str],
) -> None:
    _template, stderr = synthesis
    assert "end-of-life" not in stderr.lower() and "end of life" not in stderr.lower(), stderr
