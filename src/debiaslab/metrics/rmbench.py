"""RM-Bench accuracy and pairwise preference accuracy (docs/experiments/rm_forget.md#metrics).

RM-Bench (Liu et al., 2024; its `compute_accuracy`): each item has 3 chosen and 3 rejected
responses in the styles concise, detailed plain, detailed markdown (index = styledness).
A[i, j] = 1 if score(chosen_i) > score(rejected_j) (a tie counts 0), averaged over items;

    hard   = mean of the upper triangle (i < j: the chosen answer is less styled),
    normal = mean of the diagonal (same style),
    easy   = mean of the lower triangle (i > j: the chosen answer is more styled),
    mean   = mean(hard, normal, easy).

RM-Bench reports `np.mean(A)` as its average; for 3 × 3 that is the same number, since
each of the three groups has 3 cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def accuracy_matrix(chosen: Sequence[Sequence[float]], rejected: Sequence[Sequence[float]]) -> np.ndarray:
    """Mean over items of A[i, j] = [chosen_i > rejected_j]; inputs are (items × styles) scores."""
    c = np.asarray(chosen, dtype=float)
    r = np.asarray(rejected, dtype=float)
    if c.ndim != 2 or c.shape != r.shape or c.shape[1] < 2 or c.shape[0] == 0:
        raise ValueError(
            f"chosen and rejected must both be (items × styles) with ≥ 1 item and ≥ 2 styles; "
            f"got {c.shape} and {r.shape}"
        )
    return (c[:, :, None] > r[:, None, :]).mean(axis=0)


def rmbench_accuracy(chosen, rejected) -> dict[str, float]:
    """hard / normal / easy / mean accuracy from per-item chosen and rejected scores."""
    a = accuracy_matrix(chosen, rejected)
    k = a.shape[0]
    upper = a[np.triu_indices(k, 1)]
    lower = a[np.tril_indices(k, -1)]
    hard, normal, easy = float(upper.mean()), float(np.diag(a).mean()), float(lower.mean())
    return {"hard": hard, "normal": normal, "easy": easy, "mean": (hard + normal + easy) / 3}


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Fraction of pairs whose chosen response scores strictly higher."""
    c, r = np.asarray(chosen, dtype=float), np.asarray(rejected, dtype=float)
    if c.shape != r.shape or c.size == 0:
        raise ValueError(f"need equally many chosen and rejected scores (≥ 1); got {c.shape} and {r.shape}")
    return float((c > r).mean())


def mode_accuracy(item_scores: Sequence[Mapping], pairs) -> tuple[float, int]:
    """Pairwise accuracy over items × pairs: `item_scores` map a variant to its score, `pairs` are
    (chosen variant, rejected variant); returns (accuracy, number of pairs)."""
    chosen, rejected = [], []
    for scores in item_scores:
        for c, r in pairs:
            chosen.append(scores[c])
            rejected.append(scores[r])
    return pairwise_accuracy(chosen, rejected), len(chosen)
