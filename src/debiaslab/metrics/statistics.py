"""Small, tested statistics used by scoring and tables (scipy underneath).

- Mann–Whitney U (two-sided) and Cohen's d (pooled SD) between a method's
  per-response values and the baseline's;
- percentile bootstrap CI of a mean (resampling responses, seeded);
- Student-t CI of a mean over seeds, and the test of a difference to the baseline
  over seeds: paired t-test when both have the same seeds, Welch's otherwise.
"""

from __future__ import annotations

import math
from typing import Sequence


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """(mean(a) − mean(b)) / pooled SD, pooled SD = sqrt(((na−1)sa² + (nb−1)sb²) / (na+nb−2)).

    Returns 0 when both samples are constant and equal, ±inf when constant but different.
    """
    import numpy as np

    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return float("nan")
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    diff = float(a.mean() - b.mean())
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / pooled


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(U of `a`, two-sided p). p = 1 when both samples are identical constants."""
    import numpy as np
    from scipy.stats import mannwhitneyu

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    if np.all(a == a[0]) and np.all(b == a[0]):
        return len(a) * len(b) / 2.0, 1.0
    result = mannwhitneyu(a, b, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def bootstrap_ci(values: Sequence[float], seed: int, resamples: int = 1000, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean (vectorised; `seed` makes it reproducible)."""
    import numpy as np

    values = np.asarray(values, float)
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(resamples, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t CI of the mean over seeds: mean ± t_{(1+level)/2, n−1} · s/√n (NaN for n < 2)."""
    import numpy as np
    from scipy.stats import t

    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        return float("nan"), float("nan")
    half = t.ppf((1 + level) / 2, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return float(values.mean() - half), float(values.mean() + half)


def difference_test(method: dict[int, float], base: dict[int, float]) -> tuple[float, float, str]:
    """(mean difference, p, test name) of per-seed values: paired t on shared seeds, else Welch."""
    import numpy as np
    from scipy.stats import ttest_ind, ttest_rel

    shared = sorted(set(method) & set(base))
    if len(shared) >= 2 and len(shared) == len(method) == len(base):
        a = np.array([method[s] for s in shared])
        b = np.array([base[s] for s in shared])
        diff = float((a - b).mean())
        if np.allclose(a - b, (a - b)[0]):
            return diff, (1.0 if diff == 0 else 0.0), "paired t"
        return diff, float(ttest_rel(a, b).pvalue), "paired t"
    a, b = np.array(list(method.values())), np.array(list(base.values()))
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return diff, float("nan"), "none"
    return diff, float(ttest_ind(a, b, equal_var=False).pvalue), "Welch t"
