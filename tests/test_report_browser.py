"""Open generated reports (one comparison, one run directory, reports of real photos) in headless Chromium: every
image decodes at its size, the layout holds, nothing errors; reports of real photos stay small enough to share.

Uses Debian's Chromium (``make test`` installs it); a missing browser fails the test
unless ``XAIHUB_SKIP_BROWSER=1`` is set.
"""

import os

import pytest

import xaihub

from report_cases import (
    EVIL_FILE,
    PHOTOS,
    many_methods,
    photo_comparisons,
    photo_like,
    realistic_methods,
    sample_comparison,
    sample_run,
)
from toy_models import linear_model

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def require_browser():
    if os.environ.get("XAIHUB_SKIP_BROWSER") == "1":
        pytest.skip("XAIHUB_SKIP_BROWSER=1")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium) or set XAIHUB_SKIP_BROWSER=1")


@pytest.fixture
def chromium():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_page(browser, path, width=1280):
    """``path`` opened in a new page, and the list its console errors and page errors go to."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"file://{path}")
    page.wait_for_load_state("load")
    return page, errors


def undecoded_images(page):
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
    return len(images), [alt for alt, complete, width in images if not (complete and width > 0)]


def test_a_click_on_a_small_map_shows_it_large_and_a_click_there_leads_back(chromium, tmp_path):
    page, errors = open_page(chromium, sample_comparison().report(tmp_path / "report.html"))
    card = page.locator("figure.card[data-method='test.plain'][data-target='1']")
    card.locator("img.map").click()
    large = page.locator(f"#{card.get_attribute('id')}-large")
    assert page.evaluate("location.hash") == f"#{card.get_attribute('id')}-large"
    assert large.get_attribute("data-large-method") == "test.plain" and large.is_visible()
    assert large.locator("img").bounding_box()["width"] >= 360  # readable: two to three times the card's map
    large.locator("img").click()
    assert page.evaluate("location.hash") == f"#{card.get_attribute('id')}"
    assert errors == []


def test_report_renders_every_image_without_errors(chromium, tmp_path):
    page, errors = open_page(chromium, sample_comparison().report(tmp_path / "report.html"))
    assert undecoded_images(page) == (15 + 6 + 2, [])  # and the large view: 3 maps and a colour scale per target
    assert page.locator("figure.card[data-method]").count() == 8
    assert page.locator("figure[data-status='failed']").count() == 2
    assert "<script>alert(1)</script>" in page.inner_text("#image-0-target-1 > summary")  # shown as text, not run
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert errors == []


def test_dataset_report_renders_every_image_without_errors(chromium, tmp_path):
    run_dir = sample_run(tmp_path / "images", tmp_path / "run")
    page, errors = open_page(chromium, xaihub.dataset_report(run_dir, tmp_path / "dataset.html"))
    assert undecoded_images(page) == (2 * 12 + 2, [])  # input and map of 6 items × 2 methods, a colourbar, a chart
    assert page.locator("figure[data-rank='best']").count() == page.locator("figure[data-rank='worst']").count() == 6
    assert page.locator("table.failures tr[data-image='broken']").count() == 2
    assert EVIL_FILE in page.inner_text("body")  # shown as text, not run
    page.screenshot(path=str(tmp_path / "dataset.png"), full_page=True)
    assert (tmp_path / "dataset.png").stat().st_size > 10_000
    assert errors == []


def overflow(page):
    """How far the page is wider than the window (0: no horizontal scrolling)."""
    return page.evaluate("document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")


@pytest.mark.parametrize("count", [20, 60])
def test_many_methods_fit_the_window_in_wrapped_rows(chromium, tmp_path, registered, count):
    methods = [registered(m) for m in many_methods(count)] + ["baseline.noise", "baseline.centre"]
    result = xaihub.explain(linear_model(), photo_like(), methods=methods, targets=[0, 1],
                            metrics=["deletion", "insertion"])
    page, errors = open_page(chromium, result.report(tmp_path / "many.html", sort_by="deletion"), width=1400)
    assert overflow(page) <= 0
    working = count + 2 - count // 15  # every 15th fake method fails
    # maps, input, 2 colour scales, chart, agreement; the large view's maps and 2 colour scales
    assert undecoded_images(page) == (2 * working + 5 + 2 * working + 2, [])
    maps = page.eval_on_selector_all("figure.card img.map", "els => els.map(e => e.getBoundingClientRect().width)")
    assert len(maps) == 2 * working and min(maps) >= 160
    tops = page.eval_on_selector_all("details.target-maps[data-target='0'] figure.card",
                                     "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
    assert len(set(tops)) >= count // 7  # at most about 7 cards a row at 1400 px
    failed = page.eval_on_selector_all("figure[data-status='failed']", "els => els.map(e => e.offsetHeight)")
    assert len(failed) == 2 * (count // 15) and max(failed) < 200  # the long message is folded away
    page.click("nav.targets a >> nth=1")
    assert page.evaluate("location.hash") == "#image-0-target-1"
    assert abs(page.evaluate("document.getElementById('image-0-target-1').getBoundingClientRect().top")) < 5
    page.screenshot(path=str(tmp_path / f"many-{count}.png"), full_page=True)
    assert errors == []


BUDGETS = {26: 3_000_000, 60: 10_000_000}
"""Bytes a report of the two photos may weigh, by its number of realistic methods (plus the two baselines):
the demo's shape (about 28 methods) and a large run, so that a report can be mailed and opens fast."""


@pytest.fixture(scope="module")
def photo_report(tmp_path_factory):
    """``photo_report(count)``: the path of the report of the two real photos, one target each, explained by
    the first ``count`` realistic methods and the two baselines, and those methods; made once per count."""
    require_browser()
    methods = realistic_methods(max(BUDGETS))
    for method in methods:
        xaihub.register(method)
    folder, made = tmp_path_factory.mktemp("photo-reports"), {}

    def report(count):
        if count not in made:
            comparisons = photo_comparisons([m.name for m in methods[:count]] + ["baseline.noise", "baseline.centre"])
            made[count] = xaihub.report_many(comparisons, folder / f"{count}.html", names=list(PHOTOS))
        return made[count], methods[:count]

    yield report
    for method in methods:
        xaihub.unregister(method.name)


@pytest.mark.parametrize("count", [26, pytest.param(60, marks=pytest.mark.slow)])
def test_reports_of_real_photos_are_small_and_show_every_picture_at_its_size(chromium, photo_report, count):
    from xaihub.pretrained import photo
    from xaihub.report.render import DENSITY, INPUT_WIDTH, LARGE_DENSITY, LARGE_WIDTH, MAP_WIDTH, VIEW_WIDTH

    path, methods = photo_report(count)
    assert os.path.getsize(path) <= BUDGETS[count]
    page, errors = open_page(chromium, path, width=1400)
    assert overflow(page) <= 0
    views = 2 * sum(m.kind == "superpixel" for m in methods)
    # per photo: input, maps, superpixel views, colour scale, cost chart, agreement heat-map, and the large view
    # (maps and a colour scale)
    assert undecoded_images(page) == (2 * (1 + len(methods) + 2 + views + 3 + len(methods) + 2 + 1), [])
    shown = page.eval_on_selector_all("img", """els => els.map(e => {const box = e.getBoundingClientRect();
        return [e.className || e.dataset.role || 'view', +e.getAttribute('width'), box.width, box.height,
                e.naturalWidth, e.naturalHeight]})""")
    for _, width, box_width, box_height, natural_width, natural_height in shown:
        assert box_width <= width and natural_width <= DENSITY * width + 1  # never encoded above twice its size
        assert natural_width > 0
        assert abs(box_height / box_width - natural_height / natural_width) < 0.02  # nor distorted
    sizes = {(kind, box_width, natural_width) for kind, _, box_width, _, natural_width, _ in shown}
    widths = [min(DENSITY * INPUT_WIDTH, photo(name).shape[1]) for name in PHOTOS]  # chelsea is 451 px wide
    assert {s for s in sizes if s[0] == "map"} == {("map", MAP_WIDTH, DENSITY * MAP_WIDTH)}  # photos ≥ 360 px wide
    assert {s for s in sizes if s[0] == "map large"} == {("map large", LARGE_WIDTH, LARGE_DENSITY * LARGE_WIDTH)}
    assert {s for s in sizes if s[0] == "input"} == {("input", INPUT_WIDTH, w) for w in widths}
    assert {s for s in sizes if s[0] == "view"} == {("view", VIEW_WIDTH, DENSITY * VIEW_WIDTH)}  # superpixel views
    assert errors == []
