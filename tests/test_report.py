"""The HTML report's structure, escaping and figure; the browser test is in test_report_browser.py."""

import base64
import re

import numpy as np
import pytest

import xaihub

from report_cases import EVIL_LABEL, METHODS, parse, sample_comparison


@pytest.fixture(scope="module")
def comparison():
    return sample_comparison()


@pytest.fixture(scope="module")
def page(comparison, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert comparison.report(path) == str(path)
    return path.read_text(encoding="utf-8")


def test_one_cell_per_method_and_target(comparison, page):
    cells = [(a["data-method"], a["data-target"], a["data-status"]) for tag, a in parse(page).tags
             if tag == "td" and "data-status" in a]
    expected = [(m, str(t), "failed" if m == "test.broken" else "ok") for t in (0, 1) for m in METHODS]
    assert cells == expected


def test_every_image_is_an_embedded_png_and_nothing_is_fetched(page):
    sources = [a["src"] for tag, a in parse(page).tags if tag == "img"]
    # input, 3 maps × 2 targets, 2 superpixel views × 2 targets for LIME, one colourbar per row
    assert len(sources) == 1 + 6 + 4 + 2
    for source in sources:
        assert base64.b64decode(source.removeprefix("data:image/png;base64,"))[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page) and "<script" not in page.replace("&lt;script", "")


def test_timings_metrics_and_failures_are_shown(comparison, page):
    text = " ".join(parse(page).text)
    for method in METHODS:
        assert f"{comparison.timings[method]:.3f}" in text
    lime = comparison.get("native.lime", 1)
    assert f"deletion AUC: {lime.metrics['deletion']:.3f}" in text
    assert f"{lime.forward_passes} forward passes" in text
    assert "test.broken: RuntimeError: boom <b>not bold</b>" in "".join(parse(page).text)  # listed, as text
    assert ("li", {"data-method": "test.broken"}) in parse(page).tags
    assert "Agreement between methods" in text and "Library versions" in text


def test_labels_and_messages_are_escaped(page):
    assert EVIL_LABEL not in page and "<b>not bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert EVIL_LABEL in " ".join(parse(page).text)


def test_report_many_adds_a_summary_table(tmp_path, comparison):
    other = sample_comparison(seed=1)
    path = xaihub.report_many([comparison, other], tmp_path / "many.html", names=["a <i>.png", "b.png"])
    page = open(path, encoding="utf-8").read()
    assert "Summary over 2 images" in page and "a &lt;i&gt;.png" in page
    assert page.count("<section class='comparison'") == 2
    stats = xaihub.metrics.summarise([comparison, other])["native.lime"]["deletion"]
    assert str(stats) in " ".join(parse(page).text) and stats.count == 4


def test_report_refuses_bad_options(tmp_path, comparison):
    with pytest.raises(xaihub.InputError, match="scale must be one of"):
        comparison.report(tmp_path / "r.html", scale="global")
    with pytest.raises(xaihub.InputError, match="1 names for 2 comparisons"):
        xaihub.report_many([comparison, comparison], tmp_path / "r.html", names=["a"])


def test_row_scale_report_labels_the_colourbar_in_raw_units(tmp_path, comparison):
    page = open(comparison.report(tmp_path / "row.html", scale="row"), encoding="utf-8").read()
    assert "map max" not in page.split("<table class='grid'>")[1].split("</table>")[0]


def test_repr_html_is_the_section_with_scoped_styles(comparison):
    fragment = comparison._repr_html_()
    assert fragment.startswith("<div class='xaihub'><style>") and fragment.count("data-status=") == 8
    styles = fragment.split("<style>")[1].split("</style>")[0]
    selectors = [s.strip() for rule in re.findall(r"([^{}]+)\{", styles) for s in rule.split(",")]
    assert len(selectors) > 10 and all(s.startswith(".xaihub") for s in selectors)


def test_figure_has_the_same_grid_and_exports(comparison, tmp_path):
    figure = comparison.figure()
    maps = [ax for ax in figure.axes if ax.get_images()]
    assert len(maps) == 2 * (1 + 3)  # input + three working methods per target; the failed cell has text
    figure.savefig(tmp_path / "grid.png")
    figure.savefig(tmp_path / "grid.svg")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"
    assert b"<svg" in (tmp_path / "grid.svg").read_bytes()[:500]


def test_row_scale_shares_one_limit_and_map_scale_fills_each_map():
    from xaihub.report.render import scaled_maps

    small, large = np.full((4, 4), 0.5, np.float32), np.full((4, 4), 2.0, np.float32)
    np.testing.assert_allclose([m.max() for m in scaled_maps([small, large], "map")], [1, 1])
    np.testing.assert_allclose([m.max() for m in scaled_maps([small, large], "row")], [0.25, 1])
    with pytest.raises(xaihub.InputError, match="scale"):
        scaled_maps([small], "global")
