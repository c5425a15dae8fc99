"""Means with percentile-bootstrap 95% confidence intervals (items resampled with replacement, fixed seed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 1000
SEED = 11


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict[str, float | int | None]:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    def text(self, digits: int = 2) -> str:
        if self.value is None:
            return "n/a"
        if self.low is None or self.high is None:
            return f"{self.value:.{digits}f}"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


NONE = Estimate(None, None, None, 0)


def _interval(samples: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(samples, [2.5, 97.5])
    return float(low), float(high)


def mean_ci(values: Sequence[float | None], resamples: int = RESAMPLES, seed: int = SEED) -> Estimate:
    """Mean of the non-None values with a bootstrap 95% CI; n/a when there are none."""
    data = np.asarray([v for v in values if v is not None], dtype=float)
    if data.size == 0:
        return NONE
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, data.size, size=(resamples, data.size))
    low, high = _interval(data[picks].mean(axis=1))
    return Estimate(float(data.mean()), low, high, int(data.size))


def statistic_ci(rows: np.ndarray, statistic: Callable[[np.ndarray], float], resamples: int = RESAMPLES,
                 seed: int = SEED) -> Estimate:
    """A corpus statistic of per-item rows (e.g. summed BLEU counts) with a bootstrap 95% CI over items."""
    if len(rows) == 0:
        return NONE
    rng = np.random.default_rng(seed)
    samples = np.array([statistic(rows[rng.integers(0, len(rows), size=len(rows))]) for _ in range(resamples)])
    low, high = _interval(samples)
    return Estimate(float(statistic(rows)), low, high, len(rows))
