"""bench.stats: summaries, ratios and the growth classification (pure functions)."""

import pytest

from bench import stats


def test_summary_is_median_min_max():
    summary = stats.summarize([3.0, 1.0, 2.0, 10.0, 2.5])
    assert summary == stats.Summary(median=2.5, min=1.0, max=10.0, runs=5)


def test_summary_of_even_count_averages_the_middle_pair():
    assert stats.summarize([1.0, 2.0, 3.0, 4.0]).median == 2.5


def test_summary_needs_samples():
    with pytest.raises(ValueError, match="no samples"):
        stats.summarize([])


def test_ratio_of_medians():
    a, b = stats.summarize([2.2, 2.0, 2.4]), stats.summarize([2.0, 1.9, 2.1])
    assert stats.ratio(a, b) == pytest.approx(1.1)


def test_ratio_against_zero_baseline_is_infinite():
    assert stats.ratio(stats.summarize([1.0]), stats.summarize([0.0])) == float("inf")


@pytest.mark.parametrize(
    ("points", "shape"),
    [
        ({1: 1.0, 4: 1.3, 16: 2.5}, "linear"),  # 0.1 s per workload throughout
        ({1: 1.0, 4: 1.3, 16: 1.4}, "sublinear"),  # later workloads nearly free
        ({1: 1.0, 4: 1.3, 16: 6.0}, "superlinear"),  # 0.1 then 0.39 s per workload
        ({1: 1.00, 4: 1.01, 16: 1.05}, "linear"),  # flat: differences are noise
    ],
)
def test_growth_shape(points, shape):
    assert stats.growth(points).shape == shape


def test_flat_start_then_straight_line_is_linear():
    # 1 -> 4 absorbed by waits that happen anyway, then 0.25 s per workload
    assert stats.growth({1: 3.0, 4: 3.05, 8: 4.0, 16: 6.0}).shape == "linear"


def test_quadratic_growth_over_four_sizes_is_superlinear():
    points = {n: 1 + 0.01 * n * n for n in (1, 4, 8, 16)}
    assert stats.growth(points).shape == "superlinear"


def test_growth_slope_is_per_workload_first_to_last():
    grown = stats.growth({16: 2.5, 1: 1.0, 4: 1.3})
    assert grown.sizes == (1, 4, 16)
    assert grown.slope == pytest.approx(0.1)
    assert grown.slopes == pytest.approx((0.1, 0.1))
    assert grown.linear_or_better


def test_superlinear_growth_is_not_linear_or_better():
    grown = stats.growth({1: 1.0, 4: 1.3, 16: 6.0})
    assert not grown.linear_or_better
    assert grown.as_dict()["linear_or_better"] is False


def test_small_excess_within_noise_floor_is_not_superlinear():
    # the step 4 -> 16 costs 2x per workload, but only 0.06 s more in all: noise
    assert stats.growth({1: 1.0, 4: 1.015, 16: 1.135}).shape != "superlinear"


def test_growth_needs_two_sizes():
    with pytest.raises(ValueError, match="two sizes"):
        stats.growth({1: 1.0})
