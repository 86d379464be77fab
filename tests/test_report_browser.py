"""Open generated reports (one comparison, one run directory) in headless Chromium: every image decodes, nothing errors.

Uses Debian's Chromium (``make test`` installs it); a missing browser fails the test
unless ``XAIHUB_SKIP_BROWSER=1`` is set.
"""

import os

import pytest

import xaihub

from report_cases import EVIL_FILE, sample_comparison, sample_run

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


def open_page(browser, path):
    """``path`` opened in a new page, and the list its console errors and page errors go to."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"file://{path}")
    page.wait_for_load_state("load")
    return page, errors


def undecoded_images(page):
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
    return len(images), [alt for alt, complete, width in images if not (complete and width > 0)]


def test_report_renders_every_image_without_errors(chromium, tmp_path):
    page, errors = open_page(chromium, sample_comparison().report(tmp_path / "report.html"))
    assert undecoded_images(page) == (13, [])
    assert page.locator("td[data-method]").count() == 8
    assert page.locator("td[data-status='failed']").count() == 2
    assert "<script>alert(1)</script>" in page.inner_text("table.grid")  # shown as text, not run
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []


def test_dataset_report_renders_every_image_without_errors(chromium, tmp_path):
    run_dir = sample_run(tmp_path / "images", tmp_path / "run")
    page, errors = open_page(chromium, xaihub.dataset_report(run_dir, tmp_path / "dataset.html"))
    assert undecoded_images(page) == (2 * 12 + 1, [])  # input and map of 6 items × 2 methods, a colourbar
    assert page.locator("figure[data-rank='best']").count() == page.locator("figure[data-rank='worst']").count() == 6
    assert page.locator("table.failures tr[data-image='broken']").count() == 2
    assert EVIL_FILE in page.inner_text("body")  # shown as text, not run
    page.screenshot(path=str(tmp_path / "dataset.png"), full_page=True)
    assert (tmp_path / "dataset.png").stat().st_size > 10_000
    assert errors == []
