"""The paired t-test of the paper layout, with Student's t distribution computed here (no scipy needed).

``paired_t_test(a, b)``: two-sided p-value of H0 "mean of a - b is 0" over paired values (the seeds common to
both runs). The t distribution's tail is the regularized incomplete beta function
``P(|T| > t) = I_{df / (df + t²)}(df / 2, 1 / 2)``, evaluated by its continued fraction (Lentz's method).
"""

from __future__ import annotations

import math
import statistics

ALPHA = 0.05
TEST = "paired t-test over the seeds common to both, two-sided, p < 0.05"


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (converges for x < (a + 1) / (a + b + 2))."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < eps:
            break
    return result


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_two_sided(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def paired_t_test(a: list[float], b: list[float]) -> float | None:
    """Two-sided p-value of the paired t-test of ``a`` against ``b`` (equal lengths, paired by position);
    None for fewer than two pairs. All differences equal: p = 1 when they are 0, else 0."""
    if len(a) != len(b):
        raise ValueError("paired samples must have equal lengths")
    diffs = [x - y for x, y in zip(a, b)]
    n = len(diffs)
    if n < 2:
        return None
    mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
    if sd == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    return t_two_sided(mean / (sd / math.sqrt(n)), n - 1)
