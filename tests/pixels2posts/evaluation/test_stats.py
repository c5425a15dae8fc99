"""Bootstrap confidence intervals on hand-made samples."""

from __future__ import annotations

import numpy as np
import pytest

from pixels2posts.evaluation.stats import mean_ci, statistic_ci


def test_given_a_constant_sample_then_the_interval_collapses_on_the_mean() -> None:
    estimate = mean_ci([0.5] * 20)
    assert (estimate.value, estimate.low, estimate.high, estimate.n) == (0.5, 0.5, 0.5, 20)


def test_given_none_values_then_they_are_left_out_and_an_empty_sample_is_na() -> None:
    assert mean_ci([1.0, None, 0.0]).n == 2
    assert mean_ci([None, None]).value is None
    assert mean_ci([]).text() == "n/a"


def test_given_a_binary_sample_then_the_interval_brackets_the_mean_with_a_plausible_width() -> None:
    values = [1.0] * 30 + [0.0] * 70
    estimate = mean_ci(values)
    assert estimate.value == pytest.approx(0.3)
    assert estimate.low is not None and estimate.high is not None
    assert 0.19 < estimate.low < 0.3 < estimate.high < 0.41  # normal approximation: +-0.09


def test_given_a_ratio_statistic_then_items_are_resampled_as_rows() -> None:
    rows = np.array([[1, 2]] * 10 + [[0, 2]] * 10)
    estimate = statistic_ci(rows, lambda r: r[:, 0].sum() / r[:, 1].sum())
    assert estimate.value == pytest.approx(0.25)
    assert estimate.low is not None and estimate.high is not None and estimate.low < 0.25 < estimate.high
