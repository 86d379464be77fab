"""xaihub.evaluation.ranking: directions, baselines, Pareto front, bootstrap intervals, Wilcoxon + Holm, conflicts."""

import math

import numpy as np
import pytest
from scipy import stats

from xaihub.evaluation import ranking


def test_directions_follow_the_metrics_and_facts_are_not_ranked():
    assert ranking.lower_is_better("deletion") and not ranking.lower_is_better("insertion")
    assert ranking.lower_is_better("degradation_top1") is None
    # a flag (declared without a direction) is not ranked either: its 0 (passes) must not look worse than 1
    assert ranking.lower_is_better("sanity.randomization.flagged") is None
    assert ranking.lower_is_better("sanity.randomization.emprt_passes") is None
    assert ranking.better_first({"a": 0.3, "b": 0.1, "c": math.nan}, "deletion") == ["b", "a", "c"]
    assert ranking.better_first({"a": 0.3, "b": 0.1}, "insertion") == ["a", "b"]


def test_the_reference_is_the_better_baseline():
    means = {"noise": 0.1, "centre": 0.4, "lime": 0.2}
    assert ranking.reference_value(means, ["noise", "centre"], "deletion") == 0.1
    assert ranking.reference_value(means, ["noise", "centre"], "insertion") == 0.4
    assert ranking.reference_value(means, [], "deletion") is None
    assert ranking.is_better(0.05, 0.1, "deletion") and not ranking.is_better(0.1, 0.1, "deletion")
    assert not ranking.is_better(0.0999, 0.1, "deletion") and ranking.is_better(0.0999, 0.1, "deletion", margin=0)


def test_pareto_front_keeps_the_points_nothing_beats_on_cost_and_quality():
    costs = [1, 2, 3, 4, 0.5, 2]
    quality = [0.5, 0.7, 0.6, 0.9, 0.1, 0.7]  # higher is better
    assert ranking.pareto_front(costs, quality, lower_is_better=False) == [4, 0, 1, 5, 3]
    assert ranking.pareto_front(costs, [-q for q in quality], lower_is_better=True) == [4, 0, 1, 5, 3]
    assert ranking.pareto_front([1, 1], [0.2, 0.3], lower_is_better=True) == [0]


def test_holm_matches_the_step_down_definition():
    adjusted = ranking.holm([0.01, 0.04, 0.03, math.nan, 0.005])
    # sorted: 0.005×4, 0.01×3, 0.03×2, 0.04×1, made monotone
    np.testing.assert_allclose(adjusted[[4, 0, 2, 1]], [0.02, 0.03, 0.06, 0.06])
    assert math.isnan(adjusted[3])
    assert ranking.holm([0.6, 0.9]).tolist() == [1.0, 1.0]


def test_bootstrap_interval_covers_the_mean_and_handles_small_samples():
    values = np.random.default_rng(0).normal(5, 1, 40)
    interval = ranking.bootstrap_interval(values)
    assert interval.low < values.mean() < interval.high and interval.high - interval.low < 1.5
    assert interval == ranking.bootstrap_interval(values)  # seeded
    assert ranking.bootstrap_interval([2.0, 2.0, 2.0]) == ranking.Interval(2.0, 2.0, 2.0, 3)
    single = ranking.bootstrap_interval([1.5])
    assert single.mean == 1.5 and math.isnan(single.low) and str(single) == "1.500"


def test_wilcoxon_p_is_scipys_and_degenerate_pairs_are_handled():
    a, b = [0.1, 0.4, 0.35, 0.8, 0.9, 0.2], [0.2, 0.3, 0.5, 0.9, 1.0, 0.45]
    assert ranking.wilcoxon_p(a, b) == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert ranking.wilcoxon_p(a, a) == 1.0 and math.isnan(ranking.wilcoxon_p([], []))


def test_rank_methods_orders_tests_the_leaders_and_compares_with_the_better_baseline():
    rng = np.random.default_rng(1)
    images = [f"img{i}" for i in range(12)]
    level = {"good": 0.1, "fair": 0.3, "poor": 0.6, "noise": 0.25, "centre": 0.5}
    values = {m: {u: level[m] + rng.normal(0, 0.02) for u in images} for m in level}
    result = ranking.rank_methods(values, "deletion", baselines=["noise", "centre"], top=2)
    assert [r.method for r in result.methods] == ["good", "noise", "fair", "centre", "poor"]
    assert [r.beats_baselines for r in result.methods] == [True, None, False, None, False]
    assert result.reference == pytest.approx(result.methods[1].interval.mean)
    pairs = [(t.first, t.second) for t in result.tests]
    assert pairs == [("good", "fair"), ("good", "noise"), ("fair", "noise")]
    assert all(t.n == 12 and t.significant for t in result.tests)  # 12 consistent pairs: p = 2/4096 each
    assert result.tests[0].median_difference == pytest.approx(-0.2, abs=0.03)
    np.testing.assert_allclose([t.adjusted_p for t in result.tests],
                               ranking.holm([t.p_value for t in result.tests]))


def test_tests_pair_only_the_images_both_methods_have():
    values = {"a": {"x": 0.1, "y": 0.2, "z": 0.3}, "b": {"x": 0.3, "z": 0.5}}
    test = ranking.rank_methods(values, "insertion").tests[0]
    assert (test.first, test.second, test.n) == ("b", "a", 2) and test.median_difference == pytest.approx(0.2)


def test_metrics_that_rank_in_opposite_orders_are_flagged():
    values = {m: {"i": v} for m, v in {"a": 0.1, "b": 0.2, "c": 0.3}.items()}
    deletion = ranking.rank_methods(values, "deletion")      # a, b, c
    insertion = ranking.rank_methods(values, "insertion")    # c, b, a
    also_insertion = ranking.rank_methods({m: {"i": -v["i"]} for m, v in values.items()}, "insertion")  # a, b, c
    found = ranking.conflicts([deletion, insertion, also_insertion])
    assert [(c.first, c.second, c.tau, c.methods) for c in found] == [
        ("deletion", "insertion", -1.0, 3), ("insertion", "insertion", -1.0, 3)]
    with pytest.raises(ValueError, match="not a metric to rank by"):
        ranking.rank_methods(values, "degradation_top1")
