"""The multiple-choice pronoun prompt pool's format and how a response to it is read
(docs/experiments/reward_guided.md#data): shared by `reward_guided`'s pool builder and scoring
(experiments/reward_guided/) and the trainers that sample it (methods/reinforce.py, methods/rloo.py).

A pool is a table of questions with `split` (eval / train) and `rank` (position within the split): the
evaluation prompts are the eval rows, a training set of size n the first n train rows (nested sets).
"""

from __future__ import annotations

import re

GENDERED_OPTIONS = ("he", "she")
NEUTRAL_OPTIONS = ("they", "the person")
GENDERED_PRONOUNS = ("he", "him", "his", "himself", "she", "her", "hers", "herself")
_GENDERED = re.compile(r"\b(?:" + "|".join(GENDERED_PRONOUNS) + r")\b", re.IGNORECASE)
_OPTION = re.compile(r"\b(he|she|they|the person)\b", re.IGNORECASE)


def train_subset(frame, size: int):
    """The nested training set of `size` prompts (the pool's first `size` train rows)."""
    from debiaslab.core.io import DataError

    train = frame[frame["split"] == "train"].sort_values("rank")
    if size > len(train):
        raise DataError(f"dataset size {size} exceeds the training pool ({len(train)} prompts)")
    return train.head(size).reset_index(drop=True)


def eval_prompts(frame, n: int | None = None):
    rows = frame[frame["split"] == "eval"].sort_values("rank")
    return (rows if n is None else rows.head(n)).reset_index(drop=True)


def chosen_option(response: str) -> str | None:
    """The first option the response names (he / she / they / the person), or None."""
    m = _OPTION.search(response)
    return m.group(1).lower() if m else None


def has_gendered_pronoun(text: str) -> bool:
    return bool(_GENDERED.search(text))
