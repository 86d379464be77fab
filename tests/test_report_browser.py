"""Open a generated report in headless Chromium: every image decodes, nothing errors.

Uses Debian's Chromium (``make test`` installs it); a missing browser fails the test
unless ``XAIHUB_SKIP_BROWSER=1`` is set.
"""

import os

import pytest

from report_cases import sample_comparison

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def chromium():
    if os.environ.get("XAIHUB_SKIP_BROWSER") == "1":
        pytest.skip("XAIHUB_SKIP_BROWSER=1")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium) or set XAIHUB_SKIP_BROWSER=1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_report_renders_every_image_without_errors(chromium, tmp_path):
    report = sample_comparison().report(tmp_path / "report.html")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"file://{report}")
    page.wait_for_load_state("load")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
    assert len(images) == 13
    assert [alt for alt, complete, width in images if not (complete and width > 0)] == []
    assert page.locator("td[data-method]").count() == 8
    assert page.locator("td[data-status='failed']").count() == 2
    assert "<script>alert(1)</script>" in page.inner_text("table.grid")  # shown as text, not run
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []
