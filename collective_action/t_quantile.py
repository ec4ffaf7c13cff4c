"""Student's t quantile in plain Python, for the intervals over seeds.

``scipy.special.stdtrit`` gives the same numbers, but importing scipy.special pulls in
numpy.f2py through scipy's array-API layer: 0.1-0.2 s of every CLI run's start-up for one number
per table cell. The quantile here is Newton's method on the t distribution's upper tail,
P(T > t) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2), where the regularised incomplete beta
I_x is evaluated by its continued fraction (modified Lentz). Closed forms are used for df = 1
(Cauchy) and df = 2; above ``MAX_DF`` degrees of freedom (over a thousand seeds) scipy answers.
Tested against scipy to 1e-12 (tests/foundation/test_t_quantile.py).
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

_TINY = 1e-300
_EPS = 1e-15
#: above this many degrees of freedom the continued fraction converges slowly (its x nears the
#: beta distribution's mean); t_quantile then asks scipy, imported only in that case
MAX_DF = 1000


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),             # even step
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # odd step
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + num / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    return h


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for T ~ Student-t with ``df`` degrees of freedom, t >= 0."""
    return 0.5 * regularized_beta(0.5 * df, 0.5, df / (df + t * t))


def t_density(t: float, df: float) -> float:
    log_norm = math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df) - 0.5 * math.log(df * math.pi)
    return math.exp(log_norm - 0.5 * (df + 1.0) * math.log1p(t * t / df))


@lru_cache(maxsize=256)  # a table asks for the same few (p, df) again and again
def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with ``df`` > 0 degrees of freedom, 0 < p < 1."""
    if not (0.0 < p < 1.0) or not df > 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2.0 * p - 1.0) / math.sqrt(2.0 * p * (1.0 - p))
    if df > MAX_DF:
        from scipy.special import stdtrit

        return float(stdtrit(df, p))
    q = 1.0 - p
    z = NormalDist().inv_cdf(p)
    # Cornish-Fisher start (two terms of the expansion in 1/df), then Newton on the upper tail
    t = z + (z ** 3 + z) / (4.0 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96.0 * df * df)
    for _ in range(100):
        step = (t_upper_tail(t, df) - q) / t_density(t, df)
        t_next = max(t + step, 0.5 * t)  # the tail is convex: never jump past zero
        if abs(t_next - t) <= 1e-15 * max(1.0, abs(t_next)):
            return t_next
        t = t_next
    return t
