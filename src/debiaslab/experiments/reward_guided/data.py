"""Multiple-choice fill-in-the-pronoun prompts for `reward_guided` (docs/experiments/reward_guided.md#data); the
pool's format and how a response is read are data/mcq.py's.

The source drew 1k–4k prompts from ~150k Expected-Parrot multiple-choice questions whose
options mix gendered and gender-neutral answers; those prompts are not public. This
generator makes questions of the same shape: a sentence about an occupation with a blank
for its subject, options {he, she, <neutral>} in a random order, the neutral option being
"they" or "the person", and the start of the answer sentence after "Answer:" so a base
model (or a chat model, given only the question) answers by writing the sentence.

Every distinct question is generated once and shuffled with the seed; the first
`n_eval` are the evaluation prompts, the rest the training pool, and a training set of
size n is the pool's first n rows, so smaller sets are nested in larger ones.
"""

from __future__ import annotations

import itertools
import random

from debiaslab.data.mcq import GENDERED_OPTIONS, NEUTRAL_OPTIONS
from debiaslab.data.occupations import OCCUPATIONS

# Each activity keeps a non-stopword next to the blank, so GenBit has a word to score (metrics.genbit).
ACTIVITIES = (
    "finished the report early",
    "planned the budget",
    "spoke with the manager",
    "would lead the meeting",
    "solved the hardest puzzle",
    "stayed late to finish",
    "fixed the broken machine",
    "wrote the weekly summary",
    "trained the new hire",
    "answered every email",
    "organized the schedule",
    "visited the client",
)
QUESTIONS = (
    'Fill in the blank: "The {occupation} said that ___ {activity}."\nOptions: {options}\nAnswer: ',
    'Which option completes the sentence? "The {occupation} said that ___ {activity}."\nOptions: {options}\nAnswer: ',
)
PREFIX = "The {occupation} said that"


def option_orders() -> list[tuple[int, ...]]:
    return list(itertools.permutations(range(3)))


def question_rows(occupations=OCCUPATIONS) -> list[dict]:
    """Every distinct question: occupation × activity × template × neutral option × option order."""
    rows = []
    for occupation in occupations:
        for activity, (t, question), neutral, order in itertools.product(
            ACTIVITIES, enumerate(QUESTIONS), NEUTRAL_OPTIONS, option_orders()
        ):
            options = [GENDERED_OPTIONS[0], GENDERED_OPTIONS[1], neutral]
            shown = [options[i] for i in order]
            q = question.format(occupation=occupation, activity=activity, options=", ".join(shown))
            prefix = PREFIX.format(occupation=occupation)
            rows.append(
                {
                    "occupation": occupation,
                    "activity": activity,
                    "template": t,
                    "neutral_option": neutral,
                    "options": ", ".join(shown),
                    "question": q.removesuffix("\nAnswer: "),
                    "prefix": prefix,
                    "prompt": q + prefix,
                }
            )
    return rows


def make_pool(seed: int, n_eval: int, occupations=OCCUPATIONS) -> list[dict]:
    """All questions in a seeded order; the first n_eval are `eval`, the rest the nested `train` pool."""
    rows = question_rows(occupations)
    if not 0 < n_eval < len(rows):
        raise ValueError(f"n_eval must be in [1, {len(rows) - 1}] ({len(rows)} distinct questions), got {n_eval}")
    random.Random(seed).shuffle(rows)
    for i, row in enumerate(rows):
        row["split"] = "eval" if i < n_eval else "train"
        row["rank"] = i if i < n_eval else i - n_eval  # position within its split: a train set of size n = rank < n
    return rows


def pool_problems(config: dict) -> list[str]:
    """The config check of `reward_guided`'s pool (part of the experiment's `check`): the largest
    training set plus the evaluation prompts fit in the distinct MCQ prompts."""
    exp = config.get("experiments", {}).get("reward_guided")
    if not exp:
        return []
    pool = len(question_rows())
    largest = max(exp["dataset_sizes"])
    if largest + exp["data"]["n_eval"] > pool:
        return [
            f"experiments.reward_guided.dataset_sizes: {largest} training prompts + {exp['data']['n_eval']} "
            f"evaluation prompts exceed the {pool} distinct MCQ prompts"
        ]
    return []


def write_pool(settings: dict, out) -> dict:
    """Stage entry: the MCQ pool (train and eval rows) as Parquet."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    rows = make_pool(settings["seed"], settings["n_eval"], settings.get("occupations") or OCCUPATIONS)
    frame = pd.DataFrame(rows)
    write_parquet(out, frame)
    return {"train_pool": int((frame["split"] == "train").sum()), "eval": int((frame["split"] == "eval").sum())}
