"""The regression estimator of a population total from a sample, with its confidence interval (Cochran,
*Sampling Techniques*, 3rd ed., sections 7.1-7.3): ``y`` is measured on ``n`` of ``N`` units and ``x`` is
known on all of them; the total of ``y`` is ``N * (mean y + b * (mean of all x - mean sampled x))``, where
``b`` is the sample's least-squares slope of ``y`` on ``x``. A launch costs a fixed part (filling the
pipelines, the first DRAM latency) plus a part that grows with its work, so the line need not pass through
the origin as the ratio estimator's does; where every sampled ``x`` is equal (a loop over one shape) it is
the mean-per-unit estimator. Its variance is estimated from the residuals about the line, with the finite
population correction ``1 - n / N``; the interval uses Student's t, as small samples need.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence


@functools.lru_cache(maxsize=256)
def t_quantile(confidence: float, degrees_of_freedom: int) -> float:
    """The two-sided quantile of Student's t: ``P(|T| <= q) = confidence``."""
    from scipy.stats import t     # scipy comes with scikit-learn; imported once, when first needed
    return float(t.ppf((1 + confidence) / 2, degrees_of_freedom))


@dataclass(frozen=True)
class Estimate:
    value: float
    margin: float       # half-width of the interval at the stated confidence; 0 when every unit was measured

    @property
    def low(self) -> float:
        return self.value - self.margin

    @property
    def high(self) -> float:
        return self.value + self.margin


@dataclass(frozen=True)
class Line:
    """The sample's least-squares line of ``y`` on ``x``, and the spread of the sample about it."""

    mean_x: float
    mean_y: float
    slope: float               # 0 where every sampled x is equal
    residual_variance: float   # nan with too few samples to tell
    degrees_of_freedom: int
    sxx: float = 0.0           # the sampled x's sum of squared deviations

    @staticmethod
    def fit(xs: Sequence[float], ys: Sequence[float]) -> "Line":
        n = len(xs)
        mean_x, mean_y = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mean_x) ** 2 for x in xs)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx if sxx > 0 else 0.0
        df = n - (2 if sxx > 0 else 1)
        residuals = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys))
        return Line(mean_x, mean_y, slope, residuals / df if df > 0 else math.nan, df, sxx)

    @property
    def explained(self) -> float:
        """The share of the sample's spread in ``y`` the line explains (r squared; 0 for a flat sample)."""
        total = self.residual_variance * self.degrees_of_freedom + self.slope ** 2 * self.sxx
        return self.slope ** 2 * self.sxx / total if total > 0 else 0.0

    def at(self, x: float) -> float:
        return self.mean_y + self.slope * (x - self.mean_x)


def regression_total(xs: Sequence[float], ys: Sequence[float], x_total: float, population: int,
                     confidence: float) -> Estimate:
    """The total of ``y`` over ``population`` units (their ``x`` summing to ``x_total``) from the sampled
    pairs ``(xs[i], ys[i])``; exact (margin 0) when every unit was sampled."""
    n = len(xs)
    if n == population:
        return Estimate(math.fsum(ys), 0.0)
    if n == 0:
        return Estimate(0.0, math.inf)
    line = Line.fit(xs, ys)
    value = population * line.at(x_total / population)
    if math.isnan(line.residual_variance):
        return Estimate(value, math.inf)
    variance = population ** 2 * (1 - n / population) / n * line.residual_variance
    return Estimate(value, t_quantile(confidence, line.degrees_of_freedom) * math.sqrt(variance))


def projected_relative_margin(xs: Sequence[float], ys: Sequence[float], confidence: float) -> float:
    """The relative half-width an estimate of a total from this sample would have, however many more units
    it stood for (no finite population correction): ``t * s / (mean y * sqrt(n))``."""
    if not xs:
        return math.inf
    line = Line.fit(xs, ys)
    if math.isnan(line.residual_variance):
        return math.inf
    if line.mean_y <= 0:
        return 0.0 if line.residual_variance == 0 else math.inf
    return (t_quantile(confidence, line.degrees_of_freedom) * math.sqrt(line.residual_variance / len(xs))
            / line.mean_y)
