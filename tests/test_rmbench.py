"""RM-Bench hard/normal/easy/mean and pairwise accuracy against hand-computed values."""

import numpy as np
import pytest

from debiaslab.metrics.rmbench import accuracy_matrix, mode_accuracy, pairwise_accuracy, rmbench_accuracy


def test_rmbench_on_a_hand_made_3x3_score_matrix():
    # one item; styles concise, detailed plain, detailed markdown
    chosen = [[1.0, 2.0, 3.0]]
    rejected = [[0.5, 2.5, 1.5]]
    # A[i, j] = chosen_i > rejected_j:
    #            rej 0.5  rej 2.5  rej 1.5
    # ch 1.0       1        0        0
    # ch 2.0       1        0        1
    # ch 3.0       1        1        1
    expected = np.array([[1, 0, 0], [1, 0, 1], [1, 1, 1]], dtype=float)
    np.testing.assert_array_equal(accuracy_matrix(chosen, rejected), expected)
    acc = rmbench_accuracy(chosen, rejected)
    assert acc["hard"] == pytest.approx(1 / 3)  # upper triangle: 0, 0, 1
    assert acc["normal"] == pytest.approx(2 / 3)  # diagonal: 1, 0, 1
    assert acc["easy"] == pytest.approx(1.0)  # lower triangle: 1, 1, 1
    assert acc["mean"] == pytest.approx(2 / 3)  # (1/3 + 2/3 + 1) / 3
    # for 3 × 3 RM-Bench's np.mean(A) is the same number
    assert acc["mean"] == pytest.approx(expected.mean())


def test_rmbench_averages_items_and_counts_ties_as_wrong():
    # item 1: a style-biased model (markdown rejected beats plain chosen); item 2: all ties
    chosen = [[1.0, 1.2, 2.5], [1.0, 1.0, 1.0]]
    rejected = [[0.0, 0.2, 1.5], [1.0, 1.0, 1.0]]
    # item 1: A = [[1,1,0],[1,1,0],[1,1,1]]; item 2: all 0 (ties)
    acc = rmbench_accuracy(chosen, rejected)
    assert acc["hard"] == pytest.approx((1 + 0 + 0) / 3 / 2)
    assert acc["normal"] == pytest.approx(1.0 / 2)
    assert acc["easy"] == pytest.approx(1.0 / 2)
    assert acc["mean"] == pytest.approx((1 / 6 + 1 / 2 + 1 / 2) / 3)


def test_rmbench_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        rmbench_accuracy([[1, 2, 3]], [[1, 2]])
    with pytest.raises(ValueError):
        rmbench_accuracy([], [])


def test_pairwise_and_mode_accuracy():
    assert pairwise_accuracy([2, 1, 0, 1], [1, 2, 0, 0]) == pytest.approx(0.5)  # tie counts as wrong
    items = [
        {("a", True): 2.0, ("b", False): 1.0, ("c", False): 3.0},
        {("a", True): 0.0, ("b", False): -1.0, ("c", False): -2.0},
    ]
    acc, n = mode_accuracy(items, [(("a", True), ("b", False)), (("a", True), ("c", False))])
    assert n == 4 and acc == pytest.approx(3 / 4)
