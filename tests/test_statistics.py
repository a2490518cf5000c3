"""Statistics and lexical-diversity metrics against hand-computed values."""

import math

import pytest

from debiaslab.metrics.balance import shannon_entropy_bits, term_entropies, unique_pairs
from debiaslab.metrics.statistics import bootstrap_ci, cohens_d, difference_test, mann_whitney, t_interval


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


def test_cohens_d_hand_value():
    a, b = [2, 4, 6], [1, 2, 3]
    # means 4 and 2; variances 4 and 1; pooled sd = sqrt((2·4 + 2·1) / 4) = sqrt(2.5)
    assert cohens_d(a, b) == pytest.approx(2 / math.sqrt(2.5))
    assert cohens_d([1, 1], [1, 1]) == 0.0
    assert cohens_d([1, 1], [0, 0]) == math.inf


def test_mann_whitney_hand_value():
    u, p = mann_whitney([4, 5, 6], [1, 2, 3])
    assert u == 9.0  # every a beats every b: U = 3 × 3
    assert p == pytest.approx(0.1)  # exact two-sided p = 2 / C(6, 3)
    assert mann_whitney([1, 1], [1, 1]) == (2.0, 1.0)


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = [0, 1] * 50
    low, high = bootstrap_ci(values, seed=7)
    assert (low, high) == bootstrap_ci(values, seed=7)
    assert low < 0.5 < high and 0.35 < low and high < 0.65
    assert bootstrap_ci([1, 1, 1], seed=0) == (1.0, 1.0)


def test_t_interval_hand_value():
    low, high = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 * 1.0 / math.sqrt(3)  # t_{0.975, 2} · s / √n with s = 1
    assert (low, high) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert all(math.isnan(v) for v in t_interval([1.0]))


def test_difference_test_pairs_by_seed():
    method = {1: 0.5, 2: 0.7, 3: 0.9}
    base = {1: 0.1, 2: 0.4, 3: 0.4}
    diff, p, test = difference_test(method, base)
    # differences 0.4, 0.3, 0.5: mean 0.4, sd 0.1, t = 0.4 / (0.1/√3) = 6.928, df 2 → p = 0.0202
    assert test == "paired t" and diff == pytest.approx(0.4) and p == pytest.approx(0.020204, abs=1e-5)
    diff, p, test = difference_test({1: 1.0, 2: 2.0}, {3: 0.0, 4: 1.0})
    assert test == "Welch t" and diff == pytest.approx(1.0)
