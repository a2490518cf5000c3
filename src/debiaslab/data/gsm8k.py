"""GSM8K-format problems and their six styled responses each (data/answer_styles.py): what the testbed's
reward model is trained on (testbed/style_rm.py) and `rm_forget`'s pairs and items are built from
(experiments/rm_forget/data.py).

Problems come from any GSM8K-format set (`question`, `answer` ending in `#### N`) read with
`datasets.load_dataset`: `openai/gsm8k` at scale, the testbed's generated problems in the same Hub layout.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from debiaslab.data.answer_styles import AnswerError, variants


def load_problems(path: str, name: str | None, split: str, limit: int | None, seed: int):
    """A GSM8K-format split via `datasets.load_dataset` (Hub name or Hub-format folder), shuffled, first `limit`."""
    from debiaslab.hub.datasets import load_split

    frame = load_split(path, name, split, required=("question", "answer"))
    questions, answers = frame["question"].tolist(), frame["answer"].tolist()
    order = list(range(len(questions)))
    random.Random(f"{seed}:{split}").shuffle(order)
    order = order[:limit] if limit else order
    return [(i, questions[i], answers[i]) for i in order]


def build_rows(problems: Iterable[tuple[int, str, str]], split: str, seed: int) -> list[dict]:
    """Six response rows per question; a bad answer names its dataset row."""
    from debiaslab.core.io import DataError

    rows = []
    for index, question, answer in problems:
        rng = random.Random(f"{seed}:{split}:{index}")
        try:
            for v in variants(question, answer, rng):
                rows.append({"split": split, "question_id": f"{split}-{index}", "prompt": question, **v})
        except AnswerError as e:
            raise DataError(f"{split} row {index}: {e}") from None
    return rows
