"""The dataset report of an `explain_many` run: statistics, timings, galleries, failures, escaping."""

import re
import shutil

import numpy as np
import pytest
from scipy import stats as scipy_stats

import xaihub
from xaihub.report.dataset import per_image
from xaihub.run.run_directory import current_records, read_index

from report_cases import EVIL_FILE, decoded, parse, sample_run

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
    score = stats.methods["native.lime"].quantities["score"]
    assert "deletion AUC ↓" in text and f"{score.mean:.3f} ± {score.std:.3f}" in text


def test_timings_give_seconds_and_images_per_second(run_dir, page):
    seconds = xaihub.dataset_statistics(run_dir).methods["native.lime"].quantities["seconds"]
    row = table(page, "timings").split("<tr data-method='native.lime'>")[1].split("</tr>")[0]
    assert f"<td>{1 / seconds.mean:.3g}</td>" in row and f"data-n='{IMAGES}'" in row and "<td>20</td>" in row
    assert "seconds / image, alone" in table(page, "timings")


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
    images = [a for tag, a in parse(page).tags if tag == "img"]
    assert len(images) == 2 * len(items) + 2  # input and map per item, one colourbar, the cost chart
    kinds = [(a.get("class"), decoded(a["src"])[0]) for a in images]
    assert kinds.count(("input", "image/webp")) == kinds.count(("map", "image/webp")) == len(items)
    assert kinds.count(("colourbar", "image/png")) == kinds.count(("chart", "image/png")) == 1


def test_failures_are_listed_with_their_messages(page):
    rows = [a for tag, a in parse(table(page, "failures")).tags if tag == "tr" and "data-image" in a]
    assert [(a["data-image"], a["data-method"]) for a in rows] == [("broken", m) for m in METHODS]
    assert "cannot read image file" in table(page, "failures") and "Failures (2)" in page


def test_a_method_refused_for_the_model_is_listed_as_unavailable(tmp_path):
    from toy_models import channel_means

    images = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    xaihub.explain_many(channel_means, images, ["native.lime", "gradients.saliency"], out=tmp_path / "run",
                        params={"native.lime": {"num_samples": 10}})
    page = open(xaihub.dataset_report(tmp_path / "run", tmp_path / "r.html"), encoding="utf-8").read()
    assert table(page, "failures").count("<td>unavailable for this model (MethodUnavailableError)</td>") == 2


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


@pytest.fixture(scope="module")
def run_with_baselines(tmp_path_factory):
    base = tmp_path_factory.mktemp("dataset-baselines")
    return sample_run(base / "images", base / "run", metrics=("deletion", "insertion"),
                      extra=("baseline.noise", "baseline.centre"))


@pytest.fixture(scope="module")
def baseline_page(run_with_baselines, tmp_path_factory):
    path = tmp_path_factory.mktemp("dataset-baselines-report") / "dataset.html"
    return open(xaihub.dataset_report(run_with_baselines, path, sort_by="insertion"), encoding="utf-8").read()


def rows(page, name, metric=None):
    where = f"<table class='data {name}' data-metric='{metric}'>" if metric else f"<table class='data {name}'>"
    return [a for tag, a in parse(page.split(where)[1].split("</table>")[0]).tags if tag == "tr" and a]


def test_baselines_are_reference_rows_of_the_method_table(baseline_page):
    quantities = rows(baseline_page, "quantities")
    assert [a["data-method"] for a in quantities[:2]] == ["baseline.noise", "baseline.centre"]
    assert all(a.get("class") == "reference" for a in quantities[:2]) and "class" not in quantities[2]
    means = [float(a["data-mean"]) for tag, a in parse(table(baseline_page, "quantities")).tags
             if tag == "td" and a.get("data-quantity") == "metrics.insertion"][2:]
    assert means == sorted(means, reverse=True)  # sort_by="insertion": best first, after the references
    assert "does not beat the better of them" in baseline_page


def test_each_metric_ranks_methods_with_bootstrap_intervals(run_with_baselines, baseline_page):
    lines = current_records(read_index(run_with_baselines))
    for metric, lower in (("deletion", True), ("insertion", False)):
        ranked = rows(baseline_page, "ranking", metric)
        values = per_image(lines, metric)
        assert [a["data-method"] for a in ranked] == sorted(values, key=lambda m: np.mean(list(values[m].values()))
                                                              * (1 if lower else -1))
        for row in ranked:
            mean = np.mean(list(values[row["data-method"]].values()))
            assert float(row["data-mean"]) == pytest.approx(mean, rel=1e-5)
            assert float(row["data-low"]) <= float(row["data-mean"]) <= float(row["data-high"])
        assert [a["data-rank"] for a in ranked] == ["1", "2", "3", "4"]


def test_leaders_are_tested_pairwise_by_wilcoxon_with_holm_correction(run_with_baselines, baseline_page):
    lines = current_records(read_index(run_with_baselines))
    values = per_image(lines, "deletion")
    tests = rows(baseline_page, "tests")[:3]  # deletion's tests come first: the leaders' pair, each vs the baseline
    assert len(tests) == 3
    raw = []
    for test in tests:
        first, second = test["data-pair"].split()
        shared = sorted(set(values[first]) & set(values[second]))
        expected = scipy_stats.wilcoxon([values[first][i] - values[second][i] for i in shared]).pvalue
        assert float(test["data-p"]) == pytest.approx(expected, rel=1e-5)
        raw.append(expected)
    holm = sorted(raw)
    adjusted = np.maximum.accumulate([min(1, (3 - k) * p) for k, p in enumerate(holm)])
    assert sorted(float(t["data-adjusted"]) for t in tests) == pytest.approx(sorted(adjusted), rel=1e-5)


def test_metrics_ranking_methods_in_opposite_orders_are_flagged():
    from xaihub.report.dataset import _rankings

    lines = []
    for image in range(6):
        for rank, method in enumerate(["a.x", "b.x", "c.x"]):
            metrics = {"deletion": 0.1 * rank + 0.01 * image, "insertion": 0.1 * rank + 0.02 * image}
            lines.append({"image": str(image), "method": method, "status": "ok", "metrics": metrics})
    section = _rankings(lines, ["deletion", "insertion"])
    assert "<p class='flag conflict' data-metrics='deletion insertion'>" in section and "τ = -1.00" in section
    agreeing = [{**line, "metrics": {"deletion": line["metrics"]["deletion"],
                                     "insertion": -line["metrics"]["insertion"]}} for line in lines]
    assert "conflict" not in _rankings(agreeing, ["deletion", "insertion"])


def test_timings_and_chart_use_the_costs_alone(run_with_baselines, baseline_page):
    stats = xaihub.dataset_statistics(run_with_baselines).methods
    assert stats["baseline.noise"].quantities["forward_passes"].mean == 0
    assert "reused_seconds" in stats["native.lime"].quantities
    assert "<img class='chart' data-metric='insertion'" in baseline_page  # follows a metric sort_by


def test_dataset_report_refuses_bad_sort_by(run_dir, tmp_path):
    with pytest.raises(xaihub.InputError, match=r"sort_by must be .*\['deletion'\]"):
        xaihub.dataset_report(run_dir, tmp_path / "r.html", sort_by="insertion")
    with pytest.raises(xaihub.InputError, match="chart_cost"):
        xaihub.dataset_report(run_dir, tmp_path / "r.html", chart_cost="watts")


def test_the_raw_table_is_folded_below_the_verdict_n_once_and_cells_on_one_line(page):
    raw = page.split("<details class='raw-metrics'><summary>")[1].split("</details>")[0]
    assert page.index("<section class='recommendation'") < page.index("<details class='raw-metrics'>")
    assert raw.startswith(f"Raw values per method: mean ± standard deviation over n = {2 * IMAGES} explanations")
    assert "<table class='data quantities'>" in raw and "(n=" not in page and "<sup class='n'" not in raw
    assert "Deletion AUC:" in raw and "Insertion AUC" not in page and "SRG (" not in page  # only what was computed


def test_a_flag_over_the_dataset_is_counted_not_averaged_or_marked(tmp_path, run_dir):
    import json

    copy = shutil.copytree(run_dir, tmp_path / "run")
    index = copy / "index.jsonl"
    lines = [json.loads(text) for text in index.read_text().splitlines()]
    for k, line in enumerate(lines):
        if line.get("status") == "ok":
            line["metrics"]["sanity.randomization.flagged"] = float(k % 2)
    index.write_text("".join(json.dumps(line) + "\n" for line in lines))
    page = open(xaihub.dataset_report(copy, tmp_path / "r.html"), encoding="utf-8").read()
    cells = [c.split("</td>")[0] for c in table(page, "quantities").split(
        "data-quantity='metrics.sanity.randomization.flagged'")[1:]]
    assert len(cells) == 2 and all(re.search(rf">\d+/{2 * IMAGES} flagged</span>$", c) for c in cells)
    assert "sanity.randomization.flagged ↑" not in page and "▽" not in table(page, "quantities")


def test_the_cost_per_criterion_sums_the_index_lines_metric_costs(run_dir, page):
    lines = [line for line in current_records(read_index(run_dir)) if line["status"] == "ok"]
    assert page.index("<section class='recommendation'") < page.index("class='data criterion-costs'")
    costs = table(page, "criterion-costs")
    assert "over 7 image(s)" in page.split("class='data criterion-costs'")[1].split("</details>")[0]
    for method in METHODS:
        recorded = [line["extras"]["metric_costs"]["deletion"] for line in lines if line["method"] == method]
        cell = next(a for tag, a in parse(costs.split(f"data-method='{method}'")[1].split("</tr>")[0]).tags
                    if tag == "td" and a.get("data-criterion") == "faithfulness")
        assert float(cell["data-seconds"]) == pytest.approx(sum(c["seconds"] for c in recorded), rel=1e-5)
        assert int(cell["data-forward-passes"]) == sum(c["forward_passes"] for c in recorded) > 0


def test_the_chart_note_states_the_metrics_resolution(page):
    note = page.split("<img class='chart'")[1].split("</p>")[0]
    assert "The y axis spans at least 0.05, the smallest difference deletion AUC resolves" in note
