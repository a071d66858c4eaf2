"""The provider registry: each provider declared once, by its own module; requests it cannot serve refused."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from swapflow.providers import registry
from swapflow.providers.registry import AUTO, PROVIDER_NAMES, SPECS, discover, refusal

ROOT = Path(__file__).resolve().parents[3]
PROVIDERS_DIR = ROOT / "functions" / "swapflow" / "providers"


def asked(target_index: int | None = None, faces: int = 0) -> SimpleNamespace:
    return SimpleNamespace(target_index=target_index, faces=[object()] * faces)


def provider_lists(path: Path) -> list[tuple[int, set[str]]]:
    """Literal collections naming two or more providers (a tuple, list, set, dict, or pairs keyed by them)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items: list[ast.expr | None] = list(node.elts)
        elif isinstance(node, ast.Dict):
            items = [*node.keys, *node.values]
        else:
            continue
        heads = [item.elts[0] if isinstance(item, ast.Tuple) and item.elts else item for item in items]
        names = {h.value for h in heads if isinstance(h, ast.Constant) and h.value in SPECS}
        if len(names) >= 2:
            found.append((node.lineno, names))
    return found


def test_given_the_code_outside_providers_when_scanned_then_no_module_lists_providers() -> None:
    sources = [*(ROOT / "functions" / "swapflow").rglob("*.py"), *(ROOT / "infra").rglob("*.py")]
    lists = {
        f"{path.relative_to(ROOT)}:{line}": names
        for path in sources
        if PROVIDERS_DIR not in path.parents
        for line, names in provider_lists(path)
    }
    assert lists == {}, "read swapflow.providers.registry instead of listing providers"


def test_given_the_registry_when_read_then_each_provider_is_declared_by_its_own_module() -> None:
    declared_by = {name: spec.build.__module__.rsplit(".", 1)[-1] for name, spec in SPECS.items()}

    assert declared_by == {
        "akool": "akool",
        "engine": "engine",
        "wavespeed-akool": "wavespeed",
        "wavespeed-pro": "wavespeed",
    }
    assert set(PROVIDER_NAMES) == set(SPECS) and AUTO not in SPECS


def test_given_a_new_module_in_the_package_when_discovered_then_its_provider_is_registered(tmp_path, monkeypatch):
    package = tmp_path / "moreproviders"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helper.py").write_text("PROVIDERS = ('never read',)\n")
    (package / "acme.py").write_text(
        "from swapflow.providers.engine import PROVIDERS as ENGINE\n"
        "from dataclasses import replace\n"
        "PROVIDERS = (replace(ENGINE[0], name='acme', family='acme', verifies_webhooks=True),)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "moreproviders", raising=False)
    import moreproviders  # type: ignore[import-not-found]

    specs = discover(moreproviders)

    assert list(specs) == ["acme"] and specs["acme"].family == "acme"
    (package / "again.py").write_text("from moreproviders.acme import PROVIDERS\n")
    with pytest.raises(ValueError, match="'acme' is declared twice"):
        discover(moreproviders)


@pytest.mark.parametrize(
    ("provider", "request_", "field"),
    [
        ("wavespeed-pro", asked(target_index=1), "target_index"),
        ("wavespeed-akool", asked(faces=1), "faces"),
        ("akool", asked(faces=9), "faces"),
        ("akool", asked(target_index=3, faces=8), None),
        ("engine", asked(target_index=3, faces=50), None),
        ("wavespeed-pro", asked(), None),
    ],
)
def test_given_what_a_request_asks_when_checked_then_refused_only_where_the_provider_cannot_serve_it(
    provider, request_, field
) -> None:
    refused = refusal(provider, request_)

    assert (refused and refused.field) == field
    if refused:
        assert refused.capability == field and provider in refused.message and "engine" in refused.message


def test_given_auto_when_checked_then_refused_only_if_no_provider_of_the_chain_serves_it() -> None:
    assert refusal(AUTO, asked(target_index=0), auto_chain=("wavespeed-pro", "engine")) is None
    refused = refusal(AUTO, asked(target_index=0), auto_chain=("wavespeed-pro", "wavespeed-akool"))
    assert refused is not None and (refused.provider, refused.field) == (AUTO, "target_index")
    assert "akool, engine" in refused.message  # who could


def test_given_the_registry_when_defaults_are_derived_then_the_auto_chain_and_limits_come_from_the_specs() -> None:
    assert registry.default_auto_chain() == ("akool", "wavespeed-pro", "wavespeed-akool", "engine")
    assert dict(registry.default_concurrency()) == {
        "akool": 5,
        "engine": 16,
        "wavespeed-pro": 2,
        "wavespeed-akool": 2,
        "*": 2,
    }
    assert dict(registry.default_rate_per_minute()) == {"wavespeed-pro": 2, "wavespeed-akool": 2}
    assert (registry.webhook_verifier("akool"), registry.webhook_verifier("wavespeed")) == ("akool", "wavespeed-pro")
    assert registry.webhook_verifier("engine") is None  # the engine has no public callback route
