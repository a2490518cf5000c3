"""The statistics of scoring jobs and results tables, in one place (scipy and statsmodels underneath).

Two sources of uncertainty, each with its own interval:

- **over seeds** — a table cell has one value per seed (training and sampling both change with it):
  mean, sample SD, the Student-t 95 % CI of the mean; the difference to the baseline paired by seed
  with its Student-t CI and the paired t-test; Holm's adjustment over a table's p-values.
- **over items within a seed** — responses, questions, pairs, sentences, occupations. Every scoring
  job recomputes each metric on B seeded resamples of its items (`Bootstrap`: ≥ 1,000 replicates,
  stored beside the value); a table averages replicate b over seeds — independent resamples within
  each seed, i.e. a bootstrap stratified by seed — and reports the percentile interval. This works
  for metrics that are not item means (entropy, GenBit, RM-Bench, a KL, a perplexity). For shares of
  0/1 items (rates), the items pooled over seeds also give the Wilson score interval, the
  Cochran–Mantel–Haenszel test stratified by seed and Cohen's d with the SD pooled within seeds.

A statistic that is undefined (fewer than two values, zero variance) comes back as NaN with a
reason (`N_BELOW_2`, `ZERO_VARIANCE`), never as p = 0 or an infinite effect size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

RESAMPLES = 1000  # bootstrap replicates per metric and scoring job
LEVEL = 0.95
N_BELOW_2 = "n/a: n < 2"
ZERO_VARIANCE = "n/a: zero variance"
NO_REPLICATES = "n/a: no bootstrap replicates"
NAN = float("nan")


# --- over items: bootstrap replicates, written by every scoring job -----------------------------------


class Bootstrap:
    """B seeded resamples (with replacement) of a scoring job's items; the same seed, item count and
    stream give the same resamples, so metrics on the same items (every λ of a sweep, the base and a
    trained model on the same prompts) are resampled alike — their differences are paired.

    `seed` is the run's seed: resamples are independent across seeds, as a bootstrap stratified by
    seed needs. `stream` separates item sets of one job that must not share resamples (the tasks of
    a GLUE score)."""

    def __init__(self, seed: int, resamples: int = RESAMPLES):
        if resamples < 1:
            raise ValueError(f"resamples must be ≥ 1, got {resamples}")
        self.seed, self.resamples = int(seed), int(resamples)
        self._cache: dict[tuple[int, int], object] = {}

    def indices(self, n: int, stream: int = 0):
        """(resamples, n) item indices; row b is resample b."""
        import numpy as np

        key = (int(n), int(stream))
        if key not in self._cache:
            rng = np.random.default_rng([0xB007, self.seed, int(n), int(stream)])
            self._cache[key] = (
                rng.integers(0, n, size=(self.resamples, n), dtype=np.int32)
                if n
                else np.zeros((self.resamples, 0), dtype=np.int32)
            )
        return self._cache[key]

    def mean(self, values, stream: int = 0):
        """Replicates of the mean of `values` (one per item)."""
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        if len(values) == 0:
            return np.full(self.resamples, np.nan)
        return values[self.indices(len(values), stream)].mean(axis=1)

    def ratio(self, numerator, denominator, stream: int = 0):
        """Replicates of Σ numerator / Σ denominator over the items (a token-weighted mean)."""
        import numpy as np

        num, den = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
        idx = self.indices(len(num), stream)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num[idx].sum(axis=1) / den[idx].sum(axis=1)

    def statistic(self, fn: Callable, n: int, stream: int = 0) -> dict:
        """Replicates of any statistic of the items: `fn(indices)` → {metric: value} is called once per
        resample with that resample's item indices; returns {metric: array of replicates}."""
        import numpy as np

        rows = [fn(idx) for idx in self.indices(n, stream)]
        return {key: np.array([row[key] for row in rows], dtype=np.float64) for key in (rows[0] if rows else {})}

    # Score-store values ({value, n, replicates}) in one call, so a metric and its replicates come from the
    # same computation:

    def of_mean(self, values, stream: int = 0) -> dict:
        """The mean of per-item values with its replicates."""
        import numpy as np

        values = np.asarray(values, dtype=np.float64)
        return {
            "value": float(values.mean()) if len(values) else NAN,
            "n": len(values),
            "replicates": self.mean(values, stream),
        }

    def of_ratio(self, numerator, denominator, stream: int = 0) -> dict:
        """Σ numerator / Σ denominator with its replicates; n = Σ denominator (e.g. tokens)."""
        total = float(sum(denominator))
        return {
            "value": float(sum(numerator)) / total if total else NAN,
            "n": int(total),
            "replicates": self.ratio(numerator, denominator, stream),
        }

    def of_statistic(self, fn: Callable, n: int, stream: int = 0) -> dict:
        """{metric: {value, n, replicates}} of `fn(indices)` → {metric: value}: the value on all n items
        (indices 0..n−1), the replicates on the resamples."""
        import numpy as np

        full = fn(np.arange(n))
        reps = self.statistic(fn, n, stream)
        return {key: {"value": float(value), "n": n, "replicates": reps[key]} for key, value in full.items()}


def percentile_interval(replicates, level: float = LEVEL) -> tuple[float, float]:
    """The percentile bootstrap interval; NaN when there are no replicates or any is NaN."""
    import numpy as np

    r = np.asarray(replicates, dtype=np.float64)
    if r.size == 0 or np.isnan(r).any():
        return NAN, NAN
    alpha = (1 - level) / 2
    return float(np.quantile(r, alpha)), float(np.quantile(r, 1 - alpha))


def stratified_replicates(per_seed: Sequence) -> object | None:
    """Replicate b of the mean over seeds = the mean over seeds of each seed's replicate b (each seed's
    items resampled on their own: a bootstrap stratified by seed). None if a seed has no replicates."""
    import numpy as np

    arrays = [None if r is None else np.asarray(r, dtype=np.float64) for r in per_seed]
    if not arrays or any(a is None or a.size == 0 for a in arrays) or len({a.size for a in arrays}) != 1:
        return None
    return np.mean(np.stack(arrays), axis=0)


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a proportion (scipy's binomtest); NaN for n = 0."""
    from scipy.stats import binomtest

    if n <= 0:
        return NAN, NAN
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


# --- over seeds ----------------------------------------------------------------------------------------


def constant(values) -> bool:
    """All values equal up to floating-point rounding (0.8 − 0.1 and 0.9 − 0.2 differ in the last bit): the
    sample variance is zero, and a t statistic would be 0/0 or ±∞."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    return bool(np.ptp(values) <= 1e-12 * max(1.0, float(np.abs(values).max())))


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """Student-t CI of the mean: mean ± t_{(1+level)/2, n−1} · s/√n (scipy); NaN for n < 2. With s = 0 the
    interval has zero width."""
    import numpy as np
    from scipy.stats import ttest_1samp

    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return NAN, NAN
    if constant(values):
        return float(values.mean()), float(values.mean())
    ci = ttest_1samp(values, 0.0).confidence_interval(confidence_level=level)
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Difference:
    """A method minus its baseline over paired seeds: mean difference, its Student-t CI, and the paired t-test."""

    diff: float
    ci_low: float
    ci_high: float
    p: float
    test: str  # "paired t", or why there is no test
    n: int  # pairs


def paired_difference(method: Sequence[float], base: Sequence[float], level: float = LEVEL) -> Difference:
    """Δ = mean(method − base) over pairs (seeds); two-sided paired t-test (scipy's ttest_rel) and the
    Student-t CI of Δ. Fewer than two pairs, or all differences equal (zero variance: the t statistic is
    0/0 or ±∞), give p = NaN with the reason; the CI is then NaN (n < 2) or zero-width."""
    import numpy as np
    from scipy.stats import ttest_rel

    a, b = np.asarray(method, dtype=np.float64), np.asarray(base, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples need equal lengths, got {a.shape} and {b.shape}")
    d = a - b
    n = len(d)
    if n == 0:
        return Difference(NAN, NAN, NAN, NAN, N_BELOW_2, 0)
    diff = float(d.mean())
    if n < 2:
        return Difference(diff, NAN, NAN, NAN, N_BELOW_2, n)
    if constant(d):
        return Difference(diff, diff, diff, NAN, ZERO_VARIANCE, n)
    result = ttest_rel(a, b)
    ci = result.confidence_interval(confidence_level=level)
    return Difference(diff, float(ci.low), float(ci.high), float(result.pvalue), "paired t", n)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment (statsmodels) over the defined p-values; NaN stays NaN."""
    import numpy as np
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    defined = ~np.isnan(p)
    if defined.any():
        out[defined] = multipletests(p[defined], method="holm")[1]
    return out.tolist()


# --- shares of 0/1 items, stratified by seed -------------------------------------------------------


@dataclass(frozen=True)
class Stratum:
    """One seed's 0/1 items of a method and its baseline: successes and item counts."""

    k: int
    n: int
    k_base: int
    n_base: int


def strata_from_rates(pairs: Sequence[tuple[float, int, float, int]]) -> list[Stratum]:
    """Strata from (rate, items, baseline rate, baseline items) per seed (counts = round(rate · items))."""
    return [Stratum(round(r * n), int(n), round(rb * nb), int(nb)) for r, n, rb, nb in pairs]


def cmh_test(strata: Sequence[Stratum]) -> tuple[float, str]:
    """(p, test) of the Cochran–Mantel–Haenszel test of no association between method and outcome,
    stratified by seed (statsmodels' StratifiedTable, no continuity correction). For a 0/1 outcome it is
    the seed-stratified form of the Mann–Whitney U test (with one stratum: U's normal approximation with
    the tie correction). p = NaN with the reason when every stratum's hypergeometric variance is 0 (all
    items alike)."""
    import numpy as np
    from statsmodels.stats.contingency_tables import StratifiedTable

    tables = []
    for s in strata:
        table = np.array([[s.k, s.n - s.k], [s.k_base, s.n_base - s.k_base]], dtype=np.float64)
        total = table.sum()
        if total < 2 or (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
            continue  # a stratum with an empty margin carries no information (variance 0)
        tables.append(table)
    if not tables:
        return NAN, ZERO_VARIANCE if strata else N_BELOW_2
    result = StratifiedTable(np.stack(tables, axis=2)).test_null_odds(correction=False)
    return float(result.pvalue), "CMH"


def stratified_cohens_d(strata: Sequence[Stratum]) -> tuple[float, str]:
    """(d, note): Cohen's d of a 0/1 indicator, method vs baseline, with strata = seeds:
    d = mean over seeds of (p − p_base) / s_pooled, s_pooled² = Σ_seeds [(n−1)s² + (n_b−1)s_b²] / Σ (n + n_b − 2),
    where (n−1)s² = n·p(1−p) for 0/1 items. Zero pooled variance (every item alike within each group) gives
    NaN, 'n/a: zero variance' — not ±∞."""
    import math

    if not strata:
        return NAN, N_BELOW_2
    within = sum(s.k * (1 - s.k / s.n) + s.k_base * (1 - s.k_base / s.n_base) for s in strata if s.n and s.n_base)
    dof = sum(s.n + s.n_base - 2 for s in strata)
    if dof <= 0:
        return NAN, N_BELOW_2
    if within <= 0:
        return NAN, ZERO_VARIANCE
    diff = sum(s.k / s.n - s.k_base / s.n_base for s in strata) / len(strata)
    return diff / math.sqrt(within / dof), "Cohen's d"


def clip_interval(low: float, high: float, bounds: tuple[float, float] | None) -> tuple[float, float]:
    """An interval cut to a metric's range (a rate's CI never leaves [0, 1])."""
    if bounds is None:
        return low, high
    lo, hi = bounds
    low = min(max(low, lo), hi) if low == low else low
    high = max(min(high, hi), lo) if high == high else high
    return low, high
