"""The playground page and Swagger UI in a real headless Chromium (Debian's `chromium`, driven by Playwright).

A user's path: open `/playground`, paste the key, drop the bundled photos, swap, see the result at the
target's size; pick a face of a group photo; see a failed job's error code. Screenshots go to
out/test-artifacts/. Every request the page makes is recorded: none may leave the stack (no CDN).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.client import data_uri

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "images"
ARTIFACTS = ROOT / "out" / "test-artifacts"
WAIT_MS = 60_000
PAGE = 8  # the playground's history page size (app.js PAGE_SIZE)
NOFACE = data_uri(FIXTURES / "noface.jpg")


def chromium_path() -> str:
    found = os.environ.get("SWAPFLOW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("no chromium: apt-get install -y chromium")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, stack: Any) -> Iterator[Any]:
    """A fresh tab (its own sessionStorage); `page.foreign` lists requests to anywhere but the stack."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    allowed = {urlsplit(stack.api_url).netloc, urlsplit(stack.aws_endpoint).netloc}
    page.foreign = []
    page.console_errors = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).netloc in allowed:
            route.continue_()
        else:
            page.foreign.append(url)
            route.abort()

    page.route("**/*", guard)
    page.on("console", lambda msg: page.console_errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"playground-{name}.png"), full_page=True)


def open_with_key(page: Any, stack: Any) -> None:
    page.goto(f"{stack.api_url}/playground")
    page.fill("#api-key", stack.api_key)
    page.click("#save-key")
    page.wait_for_selector("#history-rows tr[data-id], #history-rows td.muted", timeout=WAIT_MS)


def drop_photos(page: Any, source: str, target: str) -> None:
    page.set_input_files("#file-source", str(FIXTURES / source))
    page.set_input_files("#file-target", str(FIXTURES / target))
    page.wait_for_function(
        "document.getElementById('state-target').textContent.includes('found')"
        " && document.getElementById('state-source').textContent.startsWith('uploaded')",
        timeout=WAIT_MS,
    )


def wait_status(page: Any, *statuses: str) -> str:
    page.wait_for_function(
        f"{list(statuses)!r}.includes(document.getElementById('status').dataset.status)", timeout=WAIT_MS
    )
    return str(page.get_attribute("#status", "data-status"))


def test_GIVEN_the_bundled_photos_WHEN_swapped_in_the_playground_THEN_the_result_shows_at_the_targets_size(
    page: Any, stack: Any
) -> None:
    open_with_key(page, stack)
    drop_photos(page, "source.jpg", "target.jpg")
    page.select_option("#output-format", "png")
    page.click("#submit")

    assert wait_status(page, "completed", "failed") == "completed"
    page.wait_for_function("document.getElementById('show-result').naturalWidth > 0", timeout=WAIT_MS)
    size = page.evaluate("(img => [img.naturalWidth, img.naturalHeight])(document.getElementById('show-result'))")
    assert size == [512, 512]  # target.jpg is 512x512
    assert "512\u00d7512 \u00b7 png" in page.inner_text("#result-size")
    assert page.is_visible("#compare") and page.is_visible("#download")
    page.fill("#compare-range", "30")
    assert "30%" in str(page.get_attribute("#compare-after", "style"))
    with page.expect_download() as download:  # fetched from the archive's presigned URL (CORS), then saved
        page.click("#download")
    assert download.value.suggested_filename.endswith(".png")
    assert Path(download.value.path()).read_bytes()[:4] == b"\x89PNG"
    job_id = page.inner_text("#job-id")
    page.wait_for_selector(f"#history-rows tr[data-id='{job_id}']", timeout=WAIT_MS)
    assert page.is_hidden("#error")
    shot(page, "completed")
    assert page.foreign == [] and page.console_errors == []


def test_GIVEN_a_group_photo_WHEN_a_face_box_is_clicked_THEN_that_face_is_the_target_index(
    page: Any, stack: Any
) -> None:
    open_with_key(page, stack)
    drop_photos(page, "source.jpg", "multi.jpg")
    boxes = page.locator("#boxes .face")
    assert boxes.count() == 3
    assert "3 faces found" in page.inner_text("#state-target")

    boxes.nth(2).click()
    assert "selected" in str(boxes.nth(2).get_attribute("class"))
    assert "target_index 2" in page.inner_text("#face-hint")
    page.click("#submit")
    assert wait_status(page, "completed", "failed") == "completed"
    page.wait_for_function("document.getElementById('show-result').naturalWidth === 900", timeout=WAIT_MS)
    shot(page, "group-face")
    boxes.nth(2).click()  # a second click goes back to the default (the largest face)
    assert "largest" in page.inner_text("#face-hint")


def test_GIVEN_a_photo_without_a_face_WHEN_swapped_THEN_the_page_shows_the_jobs_error_code_and_message(
    page: Any, stack: Any
) -> None:
    page.goto(f"{stack.api_url}/")
    page.set_input_files("#file-source", str(FIXTURES / "noface.jpg"))
    page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    assert page.inner_text("#error-code") == "no_api_key"  # nothing is sent before a key is given

    page.fill("#api-key", "sf_not_a_key")
    page.click("#save-key")
    page.wait_for_function("document.getElementById('error-code').textContent === 'unauthorized'", timeout=WAIT_MS)

    page.fill("#api-key", stack.api_key)
    page.click("#save-key")
    page.set_input_files("#file-target", str(FIXTURES / "target.jpg"))
    page.wait_for_function("document.getElementById('state-target').textContent.includes('found')", timeout=WAIT_MS)
    page.click("#submit")
    assert wait_status(page, "completed", "failed") == "failed"
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error-code") == "no_face_in_source"
    assert "no face" in page.inner_text("#error-message")
    shot(page, "no-face-error")

    failed = [stack.client().submit({"source_image": NOFACE, "target_image": NOFACE})["id"] for _ in range(PAGE)]
    for job_id in failed:
        stack.client().wait(job_id)
    page.select_option("#history-status", "failed")
    page.wait_for_function(
        "(pills => pills.length > 0 && pills.every(s => s.dataset.status === 'failed'))"
        "([...document.querySelectorAll('#history-rows tr[data-id] .status')])",
        timeout=WAIT_MS,
    )
    first_page = page.locator("#history-rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert first_page[: PAGE - 1] == failed[::-1][: PAGE - 1]  # newest first; the page's own job is older
    page.click("#history-older")
    page.wait_for_function("document.getElementById('history-page').textContent === 'page 2'", timeout=WAIT_MS)
    second_page = page.locator("#history-rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert second_page and not set(second_page) & set(first_page)
    page.click("#history-newer")
    page.wait_for_function("document.getElementById('history-page').textContent === 'page 1'", timeout=WAIT_MS)
    assert page.foreign == []


def test_GIVEN_the_api_WHEN_v1_docs_is_opened_THEN_swagger_ui_renders_the_document_offline(
    page: Any, stack: Any
) -> None:
    page.goto(f"{stack.api_url}/docs")  # also at /v1/docs
    page.wait_for_selector(".swagger-ui .info .title", timeout=WAIT_MS)
    assert "swapflow" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-summary-path[data-path='/v1/jobs']", timeout=WAIT_MS)
    shot(page, "docs")
    assert page.foreign == []


def test_GIVEN_the_generated_document_WHEN_v1_docs_is_opened_THEN_every_operation_and_the_models_are_listed(
    page: Any, stack: Any
) -> None:
    documented = {
        (method.upper(), path)
        for path, item in stack.client().request("GET", "/v1/openapi.json")[2]["paths"].items()
        for method in item
    }
    page.goto(f"{stack.api_url}/v1/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/v1/jobs/{id}/cancel']", timeout=WAIT_MS)
    listed = page.locator(".opblock").evaluate_all(
        "blocks => blocks.map(b => [b.querySelector('.opblock-summary-method').textContent,"
        " b.querySelector('.opblock-summary-path').dataset.path])"
    )
    assert {tuple(op) for op in listed} == documented
    # The schemas section shows the models the API validates with, by their class names.
    page.wait_for_function("document.querySelector('section.models')?.innerText.includes('Accepted')", timeout=WAIT_MS)
    page.locator(".opblock-summary-path[data-path='/v1/jobs']").first.click()  # POST /v1/jobs opens
    page.wait_for_selector(".opblock.is-open .body-param__example, .opblock.is-open .microlight", timeout=WAIT_MS)
    assert "https://images.example.com/face.jpg" in page.inner_text(".opblock.is-open")  # the model's example
    shot(page, "docs-operations")
    assert page.foreign == []
