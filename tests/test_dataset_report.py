"""The dataset report of an `explain_many` run: statistics, timings, galleries, failures, escaping."""

import base64
import re
import shutil

import pytest

import xaihub
from xaihub.run_directory import read_index

from report_cases import EVIL_FILE, parse, sample_run

METHODS = ["native.lime", "test.plain"]
IMAGES = 7  # sample_run's readable images; its eighth file is broken


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("dataset")
    return sample_run(base / "images", base / "run")


@pytest.fixture(scope="module")
def page(run_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("dataset-report") / "dataset.html"
    assert xaihub.dataset_report(run_dir, path) == str(path)
    return path.read_text(encoding="utf-8")


def table(page: str, name: str) -> str:
    return page.split(f"<table class='data {name}'>")[1].split("</table>")[0]


def test_a_row_per_method_with_mean_and_std_of_every_quantity(run_dir, page):
    stats = xaihub.dataset_statistics(run_dir)
    tags = parse(table(page, "quantities")).tags
    assert [a["data-method"] for tag, a in tags if tag == "tr" and "data-method" in a] == METHODS
    cells = [a for tag, a in tags if tag == "td" and "data-quantity" in a]
    assert [c["data-quantity"] for c in cells] == ["score", "metrics.deletion"] * 2
    for method, cell in zip([m for m in METHODS for _ in range(2)], cells):
        stat = stats.methods[method].quantities[cell["data-quantity"]]
        assert float(cell["data-mean"]) == pytest.approx(stat.mean, rel=1e-5)
        assert float(cell["data-std"]) == pytest.approx(stat.std, rel=1e-5, abs=1e-9)
        assert int(cell["data-n"]) == stat.n == 2 * IMAGES
    text = " ".join(parse(page).text)
    assert "deletion AUC ↓" in text and str(stats.methods["native.lime"].quantities["score"]) in text


def test_timings_give_seconds_and_images_per_second(run_dir, page):
    seconds = xaihub.dataset_statistics(run_dir).methods["native.lime"].quantities["seconds"]
    row = table(page, "timings").split("<tr data-method='native.lime'>")[1].split("</tr>")[0]
    assert f"<td>{1 / seconds.mean:.3g}</td>" in row and f"data-n='{IMAGES}'" in row and "<td>20</td>" in row


def test_each_gallery_shows_the_best_and_worst_images_by_deletion(page):
    items = [a for tag, a in parse(page).tags if tag == "figure"]
    for method in METHODS:
        mine = [a for a in items if a["data-method"] == method]
        best = [float(a["data-value"]) for a in mine if a["data-rank"] == "best"]
        worst = [float(a["data-value"]) for a in mine if a["data-rank"] == "worst"]
        assert len(best) == len(worst) == 3 and best == sorted(best) and worst == sorted(worst, reverse=True)
        assert max(best) <= min(worst)  # deletion AUC: lower is better
        assert len({a["data-image"] for a in mine}) == 6
    assert page.count("Ranked by <b>deletion AUC ↓</b> (lower is better)") == 2
    sources = [a["src"] for tag, a in parse(page).tags if tag == "img"]
    assert len(sources) == 2 * len(items) + 1  # input and map per item, one colourbar
    for source in sources:
        assert base64.b64decode(source.removeprefix("data:image/png;base64,"))[:8] == b"\x89PNG\r\n\x1a\n"


def test_failures_are_listed_with_their_messages(page):
    rows = [a for tag, a in parse(table(page, "failures")).tags if tag == "tr" and "data-image" in a]
    assert [(a["data-image"], a["data-method"]) for a in rows] == [("broken", m) for m in METHODS]
    assert "cannot read image file" in table(page, "failures") and "Failures (2)" in page


def test_file_names_are_escaped_and_the_page_is_self_contained(page):
    assert EVIL_FILE not in page and "&lt;script&gt;alert(2)" in page
    assert EVIL_FILE in parse(page).text
    assert "<script" not in page and not re.search(r"(src|href)=['\"]?(https?:|//)", page)


@pytest.mark.parametrize("metrics, heading", [((), "target probability ↑"), (("insertion",), "insertion AUC ↑")])
def test_without_deletion_the_gallery_ranks_by_insertion_then_probability(tmp_path, metrics, heading):
    run_dir = sample_run(tmp_path / "images", tmp_path / "run", metrics=metrics)
    page = open(xaihub.dataset_report(run_dir, tmp_path / "r.html", gallery_size=2), encoding="utf-8").read()
    assert page.count(f"Ranked by <b>{heading}</b> (higher is better)") == 2
    best = [float(a["data-value"]) for tag, a in parse(page).tags if tag == "figure" and a["data-rank"] == "best"]
    assert len(best) == 4 and best[:2] == sorted(best[:2], reverse=True)


def test_a_missing_explanation_file_is_reported_in_its_gallery_item(run_dir, tmp_path):
    copy = shutil.copytree(run_dir, tmp_path / "run")
    for line in read_index(copy):
        if line["status"] == "ok":
            (copy / line["file"]).unlink()
    page = open(xaihub.dataset_report(copy, tmp_path / "r.html"), encoding="utf-8").read()
    assert page.count("cannot show the map") == 12 and "Failures (2)" in page


def test_bad_arguments_are_refused(run_dir, tmp_path):
    with pytest.raises(xaihub.InputError, match="no index.jsonl"):
        xaihub.dataset_report(tmp_path, tmp_path / "r.html")
    with pytest.raises(xaihub.InputError, match="gallery_size"):
        xaihub.dataset_report(run_dir, tmp_path / "r.html", gallery_size=0)
    assert not (tmp_path / "r.html").exists()
