"""Settings: one definition per variable (name, type, default, doc), and the README table agrees with it."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from swapflow.providers.registry import base_urls
from swapflow.settings import SettingMissingError, Settings, env_name, settings_table

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"SWAPFLOW_[A-Z0-9_]+")


def readme_rows() -> list[tuple[list[str], str]]:
    """(variables, default cell) of each row of the README's configuration table."""
    section = (ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `SWAPFLOW_"):
            name_cell, default_cell = (cell.strip() for cell in line.strip().strip("|").split("|")[:2])
            rows.append((NAME.findall(name_cell), default_cell))
    return rows


def code_text() -> str:
    files = [*(ROOT / "infra").rglob("*.py"), *(ROOT / "functions" / "swapflow").rglob("*.py")]
    return "\n".join(path.read_text() for path in files)


def test_given_the_readme_table_when_compared_then_every_setting_is_documented_and_none_invented() -> None:
    documented = {name for names, _ in readme_rows() for name in names}
    settings = {s.env for s in settings_table()}

    assert sorted(settings - documented) == [], "add these to the README configuration table"
    # The rest are the local stack's own (infra/local reads them): each must be read somewhere.
    code = code_text()
    invented = sorted(name for name in documented - settings if f'"{name}"' not in code and f"'{name}'" not in code)
    assert invented == [], "documented in the README but read nowhere"


def test_given_the_readme_table_when_defaults_are_compared_then_each_is_the_settings_default() -> None:
    defaults = {s.env: s.default_text for s in settings_table()}
    unset = {s.env for s in settings_table() if not s.default}
    checked = 0
    for names, cell in readme_rows():
        shown = re.findall(r"`([^`]*)`", cell)
        if cell == "—":  # nothing by default
            assert [name for name in names if name in defaults and name not in unset] == []
            checked += len(names)
            continue
        if cell.startswith("`") and len(names) == 1:
            pairs = [(names[0], shown[0])]
        elif len(names) > 1 and len(shown) == len(names) and " / " in cell:
            pairs = list(zip(names, shown, strict=True))
        else:
            continue  # said in words ("the local API URL", "20 MB / 40 MP")
        for name, value in pairs:
            if name in defaults:
                assert (name, value) == (name, defaults[name]), "the README's default is not the code's"
                checked += 1
    assert checked >= 25


def test_given_every_setting_when_read_then_it_has_a_doc_and_its_default_spelled_out_parses_back() -> None:
    table = settings_table()

    assert all(s.doc and s.env == env_name(s.name) for s in table)
    spelled = Settings.from_env({s.env: s.default_text for s in table})
    assert replace(spelled, provider_variables=()) == Settings()
    assert base_urls(spelled) == base_urls(Settings()) == ("https://openapi.akool.com", "https://api.wavespeed.ai")


def test_given_a_missing_required_setting_when_required_then_the_error_names_the_real_variable() -> None:
    with pytest.raises(SettingMissingError, match="SWAPFLOW_TABLE is not set"):
        Settings().require("table")
    assert Settings.from_env({"SWAPFLOW_TABLE": "jobs"}).require("table") == "jobs"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SWAPFLOW_TENANT_RPS": "lots"}, "SWAPFLOW_TENANT_RPS must be an integer, got 'lots'"),
        ({"SWAPFLOW_LOCAL": "1", "SWAPFLOW_TIME_SCALE": "fast"}, "SWAPFLOW_TIME_SCALE must be a number"),
        ({"SWAPFLOW_PROVIDER_CONCURRENCY": "engine"}, "SWAPFLOW_PROVIDER_CONCURRENCY must be provider=number"),
    ],
)
def test_given_a_malformed_variable_when_read_then_it_fails_loudly_naming_it(env, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Settings.from_env(env)


def test_given_variables_when_read_then_types_fix_ups_and_local_only_rules_apply() -> None:
    got = Settings.from_env(
        {
            "SWAPFLOW_PUBLIC_URL": "https://api.example/",
            "SWAPFLOW_AUTO_PROVIDERS": " engine , akool ,",
            "SWAPFLOW_COMPAT_SYNC_WAIT_SECONDS": "60",
            "SWAPFLOW_ENGINE_CALLBACK": "0",
            "SWAPFLOW_TIME_SCALE": "0.1",  # ignored: not the local stack
            "SWAPFLOW_WEBHOOK_RETRY_SCHEDULE": "0,5,300",
        }
    )

    assert (got.public_url, got.auto_providers, got.compat_sync_wait_seconds) == (
        "https://api.example",
        ("engine", "akool"),
        27,
    )
    assert (got.engine_callback, got.time_scale, got.webhook_retry_schedule) == (False, 1.0, (0, 5, 300))
    assert Settings.from_env({"SWAPFLOW_LOCAL": "1", "SWAPFLOW_TIME_SCALE": "0.1"}).time_scale == 0.1


def test_given_a_provider_family_when_its_variables_are_set_then_its_provider_reads_them() -> None:
    settings = Settings.from_env(
        {"SWAPFLOW_AKOOL_BASE_URL": "http://127.0.0.1:9999/", "SWAPFLOW_AKOOL_API_KEY": "ak", "SWAPFLOW_OTHER": "x"}
    )

    assert settings.provider_value("akool", "api_key") == "ak"
    assert base_urls(settings) == ("http://127.0.0.1:9999", "https://api.wavespeed.ai")
    assert dict(settings.provider_variables) == {
        "SWAPFLOW_AKOOL_BASE_URL": "http://127.0.0.1:9999/",
        "SWAPFLOW_AKOOL_API_KEY": "ak",
    }
