"""Statistics and lexical-diversity metrics against hand-computed values."""

import math

import pytest

from debiaslab.core import statistics as st
from debiaslab.core.statistics import (
    N_BELOW_2,
    ZERO_VARIANCE,
    Bootstrap,
    Stratum,
    clip_interval,
    cmh_test,
    holm,
    paired_difference,
    percentile_interval,
    stratified_cohens_d,
    stratified_replicates,
    t_interval,
    wilson_interval,
)
from debiaslab.metrics.balance import shannon_entropy_bits, term_entropies, unique_pairs

T_975_2 = 4.302652729911275  # Student-t quantile t_{0.975, 2}
Z_975 = 1.959963984540054


def test_entropy_in_bits():
    assert shannon_entropy_bits([1, 1]) == pytest.approx(1.0)
    assert shannon_entropy_bits([2, 1, 1]) == pytest.approx(1.5)  # -(.5 log .5 + 2 × .25 log .25)
    assert shannon_entropy_bits([5]) == 0.0 and shannon_entropy_bits([]) == 0.0


def test_term_entropies_and_unique_pairs():
    ag = [["bold", "bold"], ["confident"], []]
    com = [["caring"], ["caring", "loyal"], ["loyal"]]
    h = term_entropies(ag, com)
    # agentic counts {bold: 2, confident: 1}: -(2/3 log2 2/3 + 1/3 log2 1/3) = 0.9183
    assert h["entropy_agentic_bits"] == pytest.approx(0.918296, abs=1e-6)
    assert h["entropy_communal_bits"] == pytest.approx(1.0)  # {caring: 2, loyal: 2}
    # combined counts {2, 1, 2, 2}: total 7
    expected = -(3 * (2 / 7) * math.log2(2 / 7) + (1 / 7) * math.log2(1 / 7))
    assert h["entropy_combined_bits"] == pytest.approx(expected)
    # pairs: (bold, caring); (confident, caring), (confident, loyal) → 3 distinct
    assert unique_pairs(ag, com) == 3


def test_t_interval_hand_value():
    low, high = t_interval([1.0, 2.0, 3.0])
    half = T_975_2 * 1.0 / math.sqrt(3)  # t_{0.975, 2} · s / √n with s = 1
    assert (low, high) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert all(math.isnan(v) for v in t_interval([1.0]))
    assert t_interval([4.0, 4.0, 4.0]) == (4.0, 4.0)  # s = 0: zero width, not NaN


def test_paired_difference_hand_value():
    # differences 0.4, 0.3, 0.5: mean 0.4, sd 0.1, t = 0.4 / (0.1/√3) = 6.928, df 2 → p = 0.0202
    d = paired_difference([0.5, 0.7, 0.9], [0.1, 0.4, 0.4])
    assert d.test == "paired t" and d.n == 3 and d.diff == pytest.approx(0.4)
    assert d.p == pytest.approx(0.020204, abs=1e-5)
    half = T_975_2 * 0.1 / math.sqrt(3)
    assert (d.ci_low, d.ci_high) == (pytest.approx(0.4 - half), pytest.approx(0.4 + half))


def test_undefined_tests_are_shown_as_undefined_never_p_zero():
    # SFT 100 % vs prompt-only 0 % in every seed: the paired t statistic is 1/0 — undefined, not p = 0
    d = paired_difference([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    assert math.isnan(d.p) and d.test == ZERO_VARIANCE and d.diff == 1.0 and (d.ci_low, d.ci_high) == (1.0, 1.0)
    d = paired_difference([0.7], [0.2])
    assert math.isnan(d.p) and d.test == N_BELOW_2 and d.diff == pytest.approx(0.5) and math.isnan(d.ci_low)
    assert paired_difference([], []).test == N_BELOW_2
    p, test = cmh_test([Stratum(0, 20, 0, 20), Stratum(0, 20, 0, 20)])  # every item alike
    assert math.isnan(p) and test == ZERO_VARIANCE
    d, note = stratified_cohens_d([Stratum(20, 20, 0, 20)])  # constant but different: was ∞
    assert math.isnan(d) and note == ZERO_VARIANCE


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 (m = 3): 3·0.01 = 0.03, 2·0.03 = 0.06, max(1·0.04, 0.06) = 0.06; NaN stays NaN
    adjusted = holm([0.01, 0.04, float("nan"), 0.03])
    assert adjusted[0] == pytest.approx(0.03) and adjusted[1] == pytest.approx(0.06)
    assert math.isnan(adjusted[2]) and adjusted[3] == pytest.approx(0.06)
    assert holm([0.5, 0.9]) == [pytest.approx(1.0), pytest.approx(1.0)]  # capped at 1


def test_wilson_interval_by_hand():
    # k = 0: [0, z²/(n + z²)]; k = n/2: 1/2 ± z/(n + z²) · √(n/4 + z²/4)
    z2 = Z_975**2
    assert wilson_interval(0, 20) == (pytest.approx(0.0, abs=1e-12), pytest.approx(z2 / (20 + z2)))
    half = Z_975 / (20 + z2) * math.sqrt(20 / 4 + z2 / 4)
    assert wilson_interval(10, 20) == (pytest.approx(0.5 - half), pytest.approx(0.5 + half))
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_cmh_by_hand_and_equal_to_mann_whitney_for_one_seed():
    from scipy.stats import mannwhitneyu

    # stratum 1: 7/20 vs 2/20 — a = 7, E = 20·9/40 = 4.5, V = 20·20·9·31 / (40²·39) = 1.78846
    # stratum 2: 5/20 vs 1/20 — a = 5, E = 20·6/40 = 3.0, V = 20·20·6·34 / (40²·39) = 1.30769
    chi2 = (12 - 7.5) ** 2 / (111600 / 62400 + 81600 / 62400)
    p, test = cmh_test([Stratum(7, 20, 2, 20), Stratum(5, 20, 1, 20)])
    assert test == "CMH" and p == pytest.approx(math.erfc(math.sqrt(chi2 / 2)))
    # one stratum: the Mann–Whitney U test of the 0/1 items (normal approximation, tie-corrected)
    a, b = [1] * 7 + [0] * 13, [1] * 2 + [0] * 18
    p_one, _ = cmh_test([Stratum(7, 20, 2, 20)])
    assert p_one == pytest.approx(mannwhitneyu(a, b, use_continuity=False, method="asymptotic").pvalue)


def test_stratified_cohens_d_by_hand():
    # one seed: 7/20 vs 2/20 — (n−1)s² = 7·13/20 and 2·18/20; pooled s = √(6.35 / 38); d = 0.25 / s
    d, note = stratified_cohens_d([Stratum(7, 20, 2, 20)])
    assert note == "Cohen's d" and d == pytest.approx(0.25 / math.sqrt(6.35 / 38))
    # two seeds pool the within-seed variances: (6.35 + 5·15/20 + 1·19/20) / (38 + 38)
    d, _ = stratified_cohens_d([Stratum(7, 20, 2, 20), Stratum(5, 20, 1, 20)])
    assert d == pytest.approx(((0.35 - 0.10) + (0.25 - 0.05)) / 2 / math.sqrt((6.35 + 3.75 + 0.95) / 76))


def test_bootstrap_replicates_are_seeded_resamples_of_the_items():
    values = [0.0, 1.0, 2.0, 5.0]
    boot = Bootstrap(seed=42)
    idx = boot.indices(4)
    assert idx.shape == (st.RESAMPLES, 4) and st.RESAMPLES >= 1000
    assert boot.mean(values).tolist() == pytest.approx([sum(values[i] for i in row) / 4 for row in idx])
    assert (Bootstrap(42).indices(4) == idx).all()  # same seed and items: the same resamples (paired)
    assert not (Bootstrap(43).indices(4) == idx).all()  # another seed: independent resamples
    assert not (boot.indices(4, stream=1) == idx).all()
    stat = boot.of_statistic(lambda i: {"max": max(values[j] for j in i)}, 4)["max"]
    assert stat["value"] == 5.0 and stat["n"] == 4 and set(stat["replicates"]) <= set(values)
    ratio = boot.of_ratio([2.0, 4.0], [1, 3])
    assert ratio["value"] == pytest.approx(1.5) and ratio["n"] == 4


def test_stratified_bootstrap_of_a_tiny_example():
    # seed A's replicates 1, 2, 3 and seed B's 3, 4, 5: replicate b of the mean over seeds = 2, 3, 4
    assert stratified_replicates([[1, 2, 3], [3, 4, 5]]).tolist() == [2.0, 3.0, 4.0]
    assert stratified_replicates([[1, 2, 3], []]) is None  # a seed without replicates: no interval
    # percentile interval (linear interpolation): 2.5 % of [2, 3, 4] = 2.05, 97.5 % = 3.95
    assert percentile_interval([2.0, 3.0, 4.0]) == (pytest.approx(2.05), pytest.approx(3.95))
    assert all(math.isnan(v) for v in percentile_interval([1.0, float("nan")]))
    # end to end: each seed's items resampled on their own (its own seed), then averaged
    a, b = Bootstrap(1), Bootstrap(2)
    items_a, items_b = [0.0, 1.0, 1.0], [2.0, 2.0, 6.0]
    reps = stratified_replicates([a.mean(items_a), b.mean(items_b)])
    expected = [
        (sum(items_a[i] for i in ra) / 3 + sum(items_b[i] for i in rb) / 3) / 2
        for ra, rb in zip(a.indices(3), b.indices(3))
    ]
    assert reps.tolist() == pytest.approx(expected)


def test_intervals_are_cut_to_the_metric_range():
    assert clip_interval(-0.0037, 0.02, (0.0, 1.0)) == (0.0, 0.02)
    assert clip_interval(0.9, 1.42, (0.0, 1.0)) == (0.9, 1.0)
    assert clip_interval(-3.0, 2.0, None) == (-3.0, 2.0)
