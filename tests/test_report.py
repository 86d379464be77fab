"""The HTML report's structure, escaping, tables, references and figures; the browser tests are in
test_report_browser.py."""

import re

import numpy as np
import pytest

import xaihub

from report_cases import EVIL_LABEL, METHODS, Fake, decoded, parse, photo_like, sample_comparison
from toy_models import linear_model


@pytest.fixture(scope="module")
def comparison():
    return sample_comparison()


@pytest.fixture(scope="module")
def page(comparison, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    assert comparison.report(path) == str(path)
    return path.read_text(encoding="utf-8")


def table(page: str, name: str) -> str:
    return page.split(f"<table class='data {name}'>")[1].split("</table>")[0]


def rows(page: str, name: str) -> list[dict]:
    return [a for tag, a in parse(table(page, name)).tags if tag == "tr" and "data-method" in a]


def test_one_card_per_method_and_target_in_a_section_per_target(comparison, page):
    cards = [(a["data-method"], a["data-target"], a["data-status"]) for tag, a in parse(page).tags
             if tag == "figure" and "data-status" in a]
    expected = [(m, str(t), "failed" if m == "test.broken" else "ok") for t in (0, 1) for m in METHODS]
    assert cards == expected  # native.lime's family first; the unregistered test methods are "other"
    sections = [a for tag, a in parse(page).tags if tag == "details" and a.get("class") == "target-maps"]
    assert [(s["id"], s["data-target"]) for s in sections] == [("image-0-target-0", "0"), ("image-0-target-1", "1")]
    links = [a["href"] for tag, a in parse(page).tags if tag == "a" and a.get("href", "").startswith("#image-0-t")
             and "-map-" not in a["href"]]
    assert links == ["#image-0-target-0", "#image-0-target-1"]


def test_every_picture_is_embedded_sized_and_nothing_is_fetched(page):
    from xaihub.report.render import DENSITY

    images = [a for tag, a in parse(page).tags if tag == "img"]
    # input, 3 maps × 2 targets, 2 superpixel views × 2 targets for LIME, a colour scale per target,
    # the faithfulness-vs-cost chart and the agreement heat-map; the large view: 3 maps and a scale per target
    assert len(images) == 1 + 6 + 4 + 2 + 1 + 1 + 6 + 2
    for attributes in images:
        mime, picture = decoded(attributes["src"])
        photo_like = (attributes.get("class", "").startswith("map") or attributes.get("data-role") == "input"
                      or attributes["alt"].endswith("kept"))
        assert (mime, picture.format) == (("image/webp", "WEBP") if photo_like else ("image/png", "PNG"))
        assert picture.mode == ("RGB" if photo_like else "P")
        width, height = int(attributes["width"]), int(attributes["height"])
        assert picture.width <= DENSITY * width  # the 32×32 input is never enlarged; the browser does that
        assert abs(picture.height / picture.width - height / width) < 0.02
    charts = [a for a in images if "chart" in a.get("class", "") or a.get("class") == "colourbar"]
    assert len(charts) == 6 and all(decoded(a["src"])[1].width == DENSITY * int(a["width"]) for a in charts)
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page) and "<script" not in page.replace("&lt;script", "")


def test_costs_metrics_and_failures_are_shown(comparison, page):
    text = " ".join(parse(page).text)
    for method in METHODS:
        assert f"{comparison.timings[method]:.3f}" in table(page, "timings")
    lime = comparison.get("native.lime", 1)
    assert f"deletion AUC: {lime.metrics['deletion']:.3f}" in text
    assert f"{lime.forward_passes} forward passes" in text
    assert "test.broken: RuntimeError: boom <b>not bold</b>" in "".join(parse(page).text)  # listed, as text
    assert ("li", {"data-method": "test.broken", "data-failure": "failed"}) in parse(page).tags
    assert "Agreement between methods" in text and "Library versions" in text


def test_labels_and_messages_are_escaped(page):
    assert EVIL_LABEL not in page and "<b>not bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert EVIL_LABEL in " ".join(parse(page).text)


def test_a_long_failure_shows_its_first_line_and_folds_the_rest(registered, tmp_path):
    registered(Fake("test.long", None, fails=True))
    result = xaihub.explain(linear_model(), photo_like(32), methods=["test.long"])
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    card = page.split("data-status='failed'>")[1].split("</figure>")[0]
    shown = card.split("<details>")[0]
    assert "first line of a long failure" in shown and "goes on and on" not in shown
    assert "<summary>whole message</summary><pre>" in card and card.count("goes on and on") == 200


def test_a_method_refused_for_the_model_is_unavailable_not_failed(tmp_path):
    result = xaihub.explain(linear_model(), photo_like(32), methods=["native.lime", "gradients.saliency"],
                            params={"native.lime": {"num_samples": 20}})
    refused = result.failure("gradients.saliency")
    assert refused.unavailable and refused.status == "unavailable for this model"
    assert "UNAVAILABLE FOR THIS MODEL: gradients.saliency needs gradients" in result.summary()
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    card = page.split("data-status='unavailable'>")[1].split("</figure>")[0]
    assert "<b>unavailable for this model</b>" in card and "needs gradients" in card
    assert "data-status='failed'" not in page
    assert "<td>unavailable for this model</td>" in table(page, "timings")
    result.figure()  # the figure's cell says so too (drawn without error)


def test_report_many_adds_a_summary_table(tmp_path, comparison):
    other = sample_comparison(seed=1)
    path = xaihub.report_many([comparison, other], tmp_path / "many.html", names=["a <i>.png", "b.png"])
    page = open(path, encoding="utf-8").read()
    assert "Summary over 2 images" in page and "a &lt;i&gt;.png" in page
    assert page.count("<section class='comparison'") == 2
    assert "id='image-1-target-0'" in page  # anchors differ between images
    stats = xaihub.metrics.summarise([comparison, other])["native.lime"]["deletion"]
    summary = page.split("<section class='summary'>")[1].split("<section class='comparison'")[0]
    raw = summary.split("<details class='raw-metrics'><summary>")[1]  # folded, below the verdict
    assert summary.index("<h2>Recommendation</h2>") < summary.index("<details class='raw-metrics'>")
    assert raw.startswith(f"Raw metric values: mean ± sd over n = {stats.count} explanations") and stats.count == 4
    assert f"<span class='num'>{stats.mean:.3f} ± {stats.std:.3f}</span>" in raw and "(n=" not in page


def test_report_refuses_bad_options(tmp_path, comparison):
    with pytest.raises(xaihub.InputError, match="scale must be one of"):
        comparison.report(tmp_path / "r.html", scale="global")
    with pytest.raises(xaihub.InputError, match="1 names for 2 comparisons"):
        xaihub.report_many([comparison, comparison], tmp_path / "r.html", names=["a"])
    with pytest.raises(xaihub.InputError, match=r"sort_by must be .*'deletion', 'insertion', 'degradation'\]"):
        comparison.report(tmp_path / "r.html", sort_by="speed")
    with pytest.raises(xaihub.InputError, match="sort_by must be"):
        comparison.report(tmp_path / "r.html", chart_metric="degradation_top1")
    with pytest.raises(xaihub.InputError, match="chart_cost must be one of"):
        comparison.report(tmp_path / "r.html", chart_cost="euros")


def test_tables_follow_sort_by(tmp_path, comparison):
    page = open(comparison.report(tmp_path / "r.html", sort_by="seconds"), encoding="utf-8").read()
    seconds = [float(a["data-seconds"]) for a in rows(page, "timings")]
    assert seconds == sorted(seconds) and len(seconds) == 4
    assert "Rows ordered by seconds (cheapest first)." in page
    page = open(comparison.report(tmp_path / "r.html", sort_by="deletion"), encoding="utf-8").read()
    deletion = [float(a["data-mean"]) for tag, a in parse(table(page, "metrics")).tags
                if tag == "td" and a.get("data-metric") == "deletion"]
    assert deletion == sorted(deletion) and len(deletion) == 3
    insertion = open(comparison.report(tmp_path / "r.html", sort_by="insertion"), encoding="utf-8").read()
    values = [float(a["data-mean"]) for tag, a in parse(table(insertion, "metrics")).tags
              if tag == "td" and a.get("data-metric") == "insertion"]
    assert values == sorted(values, reverse=True)  # higher is better: best first
    assert "<img class='chart' data-metric='insertion'" in insertion  # the chart follows a metric sort_by


class Signal(Fake):
    """The map is the target's channel (right for linear_model), or its negative (the worst possible order when
    read signed, as an occlusion map is)."""

    def __init__(self, name, sign):
        super().__init__(name, "occlusion")  # read signed: the inverted map stays inverted
        self.sign = sign

    def explain(self, model, image, targets, *, seed):
        return [xaihub.Explanation(target=t, attribution=self.sign * image[..., t].astype(np.float32))
                for t in targets]


def test_baselines_are_reference_rows_and_methods_that_do_not_beat_them_are_marked(registered, tmp_path):
    registered(Signal("test.right", 1))
    registered(Signal("test.inverted", -1))
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    methods = ["test.right", "test.inverted", "baseline.noise", "baseline.centre"]
    result = xaihub.explain(linear_model(), image, methods=methods, targets=[0, 1], metrics=["deletion", "insertion"])
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    metric_rows = rows(page, "metrics")
    assert [a["data-method"] for a in metric_rows] == ["baseline.noise", "baseline.centre", "test.right",
                                                        "test.inverted"]
    assert [a.get("class") for a in metric_rows] == ["reference", "reference", None, None]
    marked = {row.split("'")[0]: row.count("class='below'")
              for row in table(page, "metrics").split("data-method='")[1:]}
    assert marked == {"baseline.noise": 0, "baseline.centre": 0, "test.right": 0, "test.inverted": 2}
    assert "does not beat the better of them" in page and "no-baseline" not in page
    assert "<span class='below'" in page.split("data-method='test.inverted' data-target='0'")[1].split("</figure>")[0]


def test_without_baselines_the_report_says_how_to_add_them(page):
    assert "<p class='note no-baseline'>" in page and "baseline.noise" in page


def test_families_of_several_libraries_show_their_agreement_and_flag_disagreement(registered, tmp_path):
    for name, family, noise, steps in [("alpha.grad", "saliency", 0.0, 8), ("beta.grad", "saliency", 0.05, 8),
                                       ("alpha.cam", "grad_cam", 0.0, 4), ("beta.cam", "grad_cam", 2.0, 16),
                                       ("alpha.other", "grad_cam_pp", 0.0, 1)]:
        registered(Fake(name, family, noise=noise, defaults={"steps": steps}))
    result = xaihub.explain(linear_model(), photo_like(), methods=["alpha.grad", "alpha.cam", "beta.grad",
                                                                    "beta.cam", "alpha.other"], targets=[0, 1])
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    families = {a["data-family"]: float(a["data-mean"]) for tag, a in parse(table(page, "families")).tags
                if tag == "tr" and "data-family" in a}
    assert set(families) == {"saliency", "grad_cam"}  # grad_cam_pp has one implementation
    assert families["saliency"] > 0.9 and families["grad_cam"] < 0.8
    cam = table(page, "families").split("data-family='grad_cam'")[1].split("</tr>")[0]
    assert "disagree" in cam and "<summary>steps</summary>" in cam and "alpha.cam = 4; beta.cam = 16" in cam
    boxes = [a for tag, a in parse(page).tags if tag == "section" and "data-family" in a]
    assert [(b["data-family"], b["class"]) for b in boxes[:3]] == [
        ("saliency", "family"), ("grad_cam", "family disagrees"), ("grad_cam_pp", "family")]
    cards = [a["data-method"] for tag, a in parse(page).tags if tag == "figure" and a.get("data-target") == "0"]
    assert cards == ["alpha.grad", "beta.grad", "alpha.cam", "beta.cam", "alpha.other"]  # grouped by family
    meaning = page.split("<p class='note families-meaning'>")[1].split("</p>")[0]  # names the alarming pair
    assert "Here they do not: " in meaning and "alpha.cam vs beta.cam (ρ = " in meaning and "alpha.grad" not in meaning


def test_row_scale_report_labels_the_colour_scale_in_raw_units(tmp_path, comparison):
    page = open(comparison.report(tmp_path / "row.html", scale="row"), encoding="utf-8").read()
    assert "map max" not in page.split("<div class='families'>")[0].split("<div class='legend'>")[1]


def test_repr_html_is_the_section_with_scoped_styles(comparison):
    fragment = comparison._repr_html_()
    assert fragment.startswith("<div class='xaihub'><style>") and fragment.count("data-status=") == 8
    assert "data-large-method" not in fragment  # no large view stored in notebooks
    styles = fragment.split("<style>")[1].split("</style>")[0]
    selectors = [s.strip() for rule in re.findall(r"([^{}]+)\{", styles) for s in rule.split(",")]
    assert len(selectors) > 10 and all(s.startswith(".xaihub") for s in selectors)


def test_figure_has_the_same_maps_and_exports_one_file_per_target(comparison, tmp_path):
    figure = comparison.figure()
    maps = [ax for ax in figure.axes if ax.get_images()]
    assert len(maps) == 2 * (1 + 3)  # input + three working methods per target; the failed cell has text
    one = comparison.figure(target=1)
    assert len([ax for ax in one.axes if ax.get_images()]) == 1 + 3
    assert [ax.get_title() for ax in one.axes[:5]] == ["input"] + METHODS
    for format in ("png", "svg"):
        paths = comparison.save_figures(tmp_path / format, format=format)
        assert [p.rsplit("/", 1)[1] for p in paths] == [f"maps-target-0.{format}", f"maps-target-1.{format}"]
    assert open(paths[0], "rb").read(300).count(b"<svg") == 1
    assert (tmp_path / "png" / "maps-target-1.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(xaihub.InputError, match="target 7 was not explained"):
        comparison.figure(target=7)
    with pytest.raises(xaihub.InputError, match="format must be one of"):
        comparison.save_figures(tmp_path, format="gif")


def test_a_figure_of_many_methods_wraps_into_rows(registered):
    from report_cases import many_methods

    methods = [registered(m) for m in many_methods(20)]
    result = xaihub.explain(linear_model(), photo_like(32), methods=methods, targets=[0])
    figure = result.figure(target=0)
    width, height = figure.get_size_inches()
    assert width < 16 and height > 3 * 2.2  # 6 columns, 4 rows: not one 21-column strip


def test_row_scale_shares_one_limit_and_map_scale_fills_each_map():
    from xaihub.report.render import scaled_maps

    small, large = np.full((4, 4), 0.5, np.float32), np.full((4, 4), 2.0, np.float32)
    np.testing.assert_allclose([m.max() for m in scaled_maps([small, large], "map")], [1, 1])
    np.testing.assert_allclose([m.max() for m in scaled_maps([small, large], "row")], [0.25, 1])
    with pytest.raises(xaihub.InputError, match="scale"):
        scaled_maps([small], "global")


def test_pictures_are_encoded_at_twice_their_shown_width_and_never_enlarged(coffee):
    from xaihub.report import render

    picture = render.photo(coffee, render.MAP_WIDTH)  # 400×600
    assert (picture.width, picture.height) == (180, 120) and decoded(picture.uri)[1].size == (360, 240)
    portrait = render.photo(coffee.transpose(1, 0, 2), render.MAP_WIDTH)
    assert (portrait.width, portrait.height) == (180, 270) and decoded(portrait.uri)[1].size == (360, 540)
    small = render.photo(coffee[:30, :40], render.MAP_WIDTH)
    assert (small.width, small.height) == (180, 135) and decoded(small.uri)[1].size == (40, 30)
    assert "width='180' height='120'" in picture.img("a <map>", "class='map'") and "a &lt;map&gt;" in picture.img("a <map>")


def test_a_maps_strongest_colours_survive_the_lossy_encoding(coffee):
    """At the peak of a smooth positive and a smooth negative blob, the encoded map is still the full colour
    of ±1 over the greyed photo; a speckled (gradient-like) map stays close to its lossless version."""
    from xaihub.report import render

    speckle = np.random.default_rng(0).standard_normal(coffee.shape[:2]) * np.hypot(*np.gradient(coffee.mean(axis=2)))
    lossless = render._fit(render.overlay(coffee, render.scaled_maps([speckle])[0]), 360).astype(np.float32)
    lossy = np.asarray(decoded(render.photo(render.overlay(coffee, render.scaled_maps([speckle])[0]), 180).uri)[1])
    assert 10 * np.log10(255 ** 2 / np.mean((lossy - lossless) ** 2)) > 33  # dB PSNR: 33.8 at quality 80, 31.9 at 50

    y, x = np.mgrid[0:400, 0:600]
    peaks = [(150, 200, 1.0), (250, 450, -1.0)]
    values = sum(sign * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * 40.0 ** 2)) for cy, cx, sign in peaks)
    shown = np.asarray(decoded(render.photo(render.overlay(coffee, values), 180).uri)[1], np.float32)
    for cy, cx, sign in peaks:
        grey = coffee[cy, cx].astype(np.float32).mean() * 0.5 + 90
        full = grey * 0.1 + render.colours(np.array([sign]))[0] * 0.9  # overlay's opacity at |value| = 1 is 0.9
        assert np.abs(shown[round(cy * 0.6), round(cx * 0.6)] - full).max() <= 8


def test_drawings_of_at_most_256_colours_are_lossless():
    from xaihub.report import render

    for picture, expected in [(render.colour_scale(180, 14), render.colourbar(360, 28)),
                              (render.colour_scale(200, 12, horizontal=True),
                               render.colourbar(400, 24)[::-1].transpose(1, 0, 2))]:
        mime, decoded_picture = decoded(picture.uri)
        assert mime == "image/png" and decoded_picture.mode == "P"
        np.testing.assert_array_equal(np.asarray(decoded_picture.convert("RGB")), expected)


def test_model_notes_and_few_superpixel_warnings_are_shown(tmp_path):
    image = photo_like(32)
    result = xaihub.explain(lambda b: (b.mean(axis=(1, 2)), b.std(axis=(1, 2))), image, methods=["native.lime"],
                            params={"native.lime": {"num_samples": 20, "segmentation": "quickshift"}})
    assert result.notes and "warning" in result.get("native.lime").extras
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    notes = page.split("<ul class='note model-notes'>")[1].split("</ul>")[0]
    assert "returns 2 outputs; explaining the first" in notes
    assert "⚠ only" in page and "superpixels: the map can hardly point at anything" in page


def test_comparison_report_and_report_many_take_the_same_presentation_options(tmp_path, comparison):
    options = {"scale": "row", "coverage": 0.5, "map_size": 240, "large_maps": 480, "sort_by": "seconds",
               "chart_cost": "forward_passes"}
    one = open(comparison.report(tmp_path / "one.html", **options), encoding="utf-8").read()
    many = open(xaihub.report_many([comparison], tmp_path / "many.html", **options), encoding="utf-8").read()
    assert one == many
    card = next(a for tag, a in parse(one).tags if tag == "figure" and a.get("data-method") == "native.lime")
    assert card["style"] == "width:240px"
    maps = [a for tag, a in parse(one).tags if tag == "img" and a.get("class") == "map"]
    assert {a["width"] for a in maps} == {"240"}
    assert "top 50% superpixels" in one and "top 20% superpixels" not in one  # coverage reached the view
    default = open(comparison.report(tmp_path / "default.html"), encoding="utf-8").read()
    assert "top 20% superpixels" in default


def test_every_map_links_to_its_large_view_and_back(page, tmp_path, comparison):
    from xaihub.report.render import LARGE_WIDTH

    tags = parse(page).tags
    cards = [a for tag, a in tags if tag == "figure" and a.get("data-status") == "ok"]
    large = {a["id"]: a for tag, a in tags if tag == "figure" and "data-large-method" in a}
    assert len(cards) == len(large) == 6 and LARGE_WIDTH >= 360
    links = {a["href"] for tag, a in tags if tag == "a"}
    for card in cards:
        assert f"#{card['id']}-large" in links and f"{card['id']}-large" in large  # one click away, and back:
        assert f"#{card['id']}" in links
        assert large[f"{card['id']}-large"]["data-large-method"] == card["data-method"]
    sizes = {(a["width"], a["class"]) for tag, a in tags if tag == "img" and "large" in a.get("class", "")}
    assert sizes == {(str(LARGE_WIDTH), "map large")}
    without = open(comparison.report(tmp_path / "small.html", large_maps=None), encoding="utf-8").read()
    assert "data-large-method" not in without and "-large'" not in without


@pytest.mark.parametrize("options, message", [
    ({"coverage": 0}, r"coverage must be a number in \(0, 1\], got 0"),
    ({"coverage": True}, "coverage must be a number"),
    ({"map_size": 10}, "map_size must be a whole number of CSS pixels from 64 to 1200, got 10"),
    ({"map_size": 200.5}, "map_size must be a whole number"),
    ({"large_maps": 5000}, "large_maps must be None"),
    ({"colour": "red"}, r"unknown report option\(s\) \['colour'\]; the options are \['scale', 'coverage'"),
])
def test_report_options_are_checked_alike(tmp_path, comparison, options, message):
    with pytest.raises(xaihub.InputError, match=message):
        comparison.report(tmp_path / "r.html", **options)
    if "colour" not in options:
        with pytest.raises(xaihub.InputError, match=message):
            xaihub.report_many([comparison], tmp_path / "r.html", **options)
    assert not (tmp_path / "r.html").exists()


def test_a_demo_sized_report_with_its_large_maps_stays_under_3_mb(tmp_path):
    """Ten methods (plus the two baselines) on the demo's two photos, at their own size: the large view of
    every map (WebP, one pixel per CSS pixel) keeps the page under 3 MB."""
    from report_cases import PHOTOS, photo_comparisons, realistic_methods

    methods = realistic_methods(10)
    for method in methods:
        xaihub.register(method)
    try:
        comparisons = photo_comparisons([m.name for m in methods] + ["baseline.noise", "baseline.centre"])
    finally:
        for method in methods:
            xaihub.unregister(method.name)
    path = xaihub.report_many(comparisons, tmp_path / "demo.html", names=list(PHOTOS))
    page = open(path, encoding="utf-8").read()
    assert page.count("class='map large'") == 2 * 12
    assert len(page.encode("utf-8")) <= 3_000_000


# Verdict-first pages (issue 28): raw tables folded and legible, flags as flags, only computed metrics defined,
# chart axes at the metric's resolution, what agreement between families means, what scoring cost per criterion.

def test_the_raw_metric_table_is_folded_below_the_verdict_with_one_line_per_cell(page):
    raw = page.split("<details class='raw-metrics'><summary>")[1].split("</details>")[0]
    assert page.index("<details class='raw-metrics'>") < page.index("<h3>Attribution maps")
    assert raw.startswith("Raw metric values: mean ± sd over n = 2 targets</summary>")  # n stated once
    cells = [c.split("</td>")[0] for c in raw.split("<td data-metric=")[1:]]
    assert len(cells) == 3 * 4 and "(n=" not in page
    for cell in cells:
        assert "<br" not in cell and ("<span class='num'>" in cell or "<span class='badge" in cell)
    assert ".xaihub .num,.xaihub .badge" in page and "white-space:nowrap" in page


@pytest.mark.parametrize("counts, plus_minus, superscripts", [((1, 1), 0, 0), ((2, 2), 2, 0), ((50, 48), 2, 1)])
def test_metric_cells_stay_one_line_at_1_2_and_50_values(counts, plus_minus, superscripts):
    from xaihub.metrics import MetricStat
    from xaihub.report.section import metric_cells
    from xaihub.report.tables import metric_table

    stats = {"a.x": {"deletion": MetricStat(0.1123, 0.0152, counts[0])},
             "b.x": {"deletion": MetricStat(0.2, 0.01, counts[1])}}
    table = metric_table(list(stats), stats, ["deletion"], [], metric_cells(stats, {"deletion": [0.1, 0.2]}))
    assert table.count("±") == plus_minus and table.count("<sup class='n'") == superscripts
    assert "0.112" in table and "(n=" not in table
    if superscripts:  # the cell over fewer values than the table's n says how many, compactly
        assert f"title='over {counts[1]} value(s), not {counts[0]}'>n={counts[1]}</sup>" in table


def test_flags_are_badges_never_marked_against_the_baselines_and_have_no_direction():
    from xaihub.metrics import MetricStat
    from xaihub.report.section import metric_cells
    from xaihub.report.tables import metric_table
    from xaihub.report.text import metric_heading

    flag, passes = "sanity.randomization.flagged", "sanity.randomization.emprt_passes"
    stats = {"baseline.noise": {flag: MetricStat(1.0, 0.0, 3), passes: MetricStat(0.0, 0.0, 3)},
             "good.x": {flag: MetricStat(0.0, 0.0, 3), passes: MetricStat(1.0, 0.0, 3)},
             "bad.x": {flag: MetricStat(2 / 3, 0.47, 3), passes: MetricStat(1 / 3, 0.47, 3)}}
    values = {flag: [1, 1, 1, 0, 0, 0, 1, 1, 0], passes: [0, 0, 0, 1, 1, 1, 0, 0, 1]}
    table = metric_table(list(stats), stats, [flag, passes], ["baseline.noise"], metric_cells(stats, values),
                         heading=metric_heading)
    assert "▽" not in table and "↑" not in table and "↓" not in table
    row = table.split("data-method='good.x'")[1].split("</tr>")[0]
    assert ">0/3 flagged</span>" in row and ">3/3 passes</span>" in row and row.count("class='badge pass'") == 2
    row = table.split("data-method='bad.x'")[1].split("</tr>")[0]
    assert ">2/3 flagged</span>" in row and row.count("class='badge fail'") == 2
    one = {"a.x": {flag: MetricStat(1.0, 0.0, 1)}}
    assert ">flagged</span>" in metric_table(["a.x"], one, [flag], [], metric_cells(one, {flag: [1.0]}))
    # a value with no direction that is not only 0 or 1 stays a number
    assert "badge" not in metric_table(["a.x"], one, [flag], [], metric_cells(one, {flag: [0.5]}))


def test_only_the_computed_metrics_are_defined(registered, tmp_path):
    from xaihub.report.text import metric_legend

    registered(Signal("test.right", 1))
    result = xaihub.explain(linear_model(), photo_like(32), methods=["test.right"], targets=[0], metrics=["deletion"])
    page = open(result.report(tmp_path / "r.html"), encoding="utf-8").read()
    opening = page.split("<p class='note'>")[1].split("</p>")[0]
    assert "Deletion AUC:" in opening
    raw = page.split("<details class='raw-metrics'><summary>")[1].split("</details>")[0]
    assert raw.startswith("Raw metric values (one target)</summary>") and "±" not in raw  # one value: no ±
    for undefined in ("SRG (", "Insertion AUC", "Degradation drop"):
        assert undefined not in page
    assert metric_legend([]) == "" and metric_legend(["srg_morf"]).startswith("SRG (")
    assert "sanity.randomization: the method run again" in metric_legend(["sanity.randomization.flagged"])
    without = xaihub.explain(linear_model(), photo_like(32), methods=["test.right"], targets=[0])
    page = open(without.report(tmp_path / "none.html"), encoding="utf-8").read()
    assert "AUC" not in page.split("<h2>")[1]


@pytest.mark.parametrize("metric", ["deletion", "insertion"])
def test_the_chart_never_magnifies_differences_below_the_metrics_resolution(metric):
    from xaihub.report.chart import RESOLUTION, Point, cost_quality_figure, indistinguishable

    points = [Point("a.x", 1.0, 0.6895), Point("b.x", 2.0, 0.6896), Point("c.x", 4.0, 0.6897)]
    ax = cost_quality_figure(points, metric, metric).axes[0]
    low, high = sorted(ax.get_ylim())
    assert high - low >= RESOLUTION - 1e-12 and low < 0.6895 and high > 0.6897
    assert (ax.get_ylim()[0] > ax.get_ylim()[1]) == (metric == "deletion")  # better is up
    assert any("indistinguishable" in t.get_text() for t in ax.texts) and indistinguishable([p.value for p in points])
    spread = [Point("a.x", 1.0, 0.2), Point("b.x", 2.0, 0.7)]  # spread enough: matplotlib's own limits
    ax = cost_quality_figure(spread, metric, metric).axes[0]
    assert 0.5 <= abs(ax.get_ylim()[1] - ax.get_ylim()[0]) < 0.6
    assert not any("indistinguishable" in t.get_text() for t in ax.texts)


def test_the_agreement_section_says_what_agreement_between_families_means(page):
    meaning = page.split("<p class='note families-meaning'>")[1].split("</p>")[0]
    assert "different families answer different questions" in meaning and "expected" in meaning
    assert "same family should agree" in meaning and "mean between families is" in meaning


def test_the_cost_per_criterion_sums_the_recorded_metric_costs(comparison, page):
    costs = table(page, "criterion-costs")
    assert page.index("class='data criterion-costs'") < page.index("<details class='raw-metrics'>")
    for method in ("native.lime", "test.channels", "test.plain"):
        recorded = [x.extras["metric_costs"] for x in comparison.by_method(method)]
        cells = {a["data-criterion"]: a for tag, a in parse(costs.split(f"data-method='{method}'")[1]
                                                            .split("</tr>")[0]).tags if tag == "td" and a}
        seconds = sum(c["seconds"] for per in recorded for c in per.values())
        passes = sum(c["forward_passes"] for per in recorded for c in per.values())
        assert float(cells["faithfulness"]["data-seconds"]) == pytest.approx(seconds, rel=1e-5)
        assert int(cells["faithfulness"]["data-forward-passes"]) == passes > 0
        assert cells["all"]["data-forward-passes"] == str(passes)


def test_criterion_costs_put_each_metric_under_its_criterion_and_the_sanity_reruns_under_randomisation():
    from xaihub.report.costs import criterion_cost_table, criterion_costs

    def line(method, costs):
        return {"method": method, "status": "ok", "extras": {"metric_costs": {
            name: {"seconds": s, "forward_passes": p} for name, (s, p) in costs.items()}}}

    lines = [line("a.x", {"deletion": (0.5, 21), "sanity.randomization": (2.0, 1),
                          "quantus.max_sensitivity": (1.0, 10)}),
             line("a.x", {"deletion": (0.25, 21), "sanity.cascading": (3.0, 4)}), line("b.x", {"srg": (0.1, 32)}),
             {"method": "c.x", "status": "error"}]
    found = criterion_costs(lines)
    assert (found["a.x"]["faithfulness"].seconds, found["a.x"]["faithfulness"].forward_passes) == (0.75, 42)
    assert (found["a.x"]["randomisation"].seconds, found["a.x"]["randomisation"].forward_passes) == (5.0, 5)
    assert found["a.x"]["robustness"].forward_passes == 10 and set(found) == {"a.x", "b.x"}
    shown = criterion_cost_table(lines, ["b.x", "a.x"], "2 images")
    assert "<th>randomisation (sanity reruns)</th>" in shown and shown.index("'b.x'") < shown.index("'a.x'")
    assert criterion_cost_table([{"method": "a.x", "status": "ok", "extras": {}}], ["a.x"], "1 image") == ""
