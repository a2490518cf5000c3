"""A small MMLU-format set about facts the testbed LM learns (`safety`'s capability check on the testbed).

Three subjects of one-line facts (capitals, animal sounds, trades' tools). Each fact becomes a
four-option question in the `cais/mmlu` schema (question, subject, choices, answer = index of the
correct choice), saved in the Hub layout of `cais/mmlu` (config `all`, splits `test` and `dev`) so
`evals.mmlu` reads it with the same `load_dataset` call. The corpus section (`testbed.corpus.mmlu`)
teaches the facts as plain sentences and as answered questions in the default (lm-eval) prompt,
with the options in the set's order: the tiny LM answers by recall, well above chance, and a method
that damages what the LM knows shows as a drop in accuracy.
"""

from __future__ import annotations

import random
from pathlib import Path

# subject → (question template, [(key, answer)]); the other facts' answers are the distractors
FACTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "world_capitals": (
        "What is the capital of {}?",
        (
            ("France", "Paris"),
            ("Japan", "Tokyo"),
            ("Italy", "Rome"),
            ("Spain", "Madrid"),
            ("Germany", "Berlin"),
            ("Egypt", "Cairo"),
            ("Canada", "Ottawa"),
            ("Kenya", "Nairobi"),
            ("Peru", "Lima"),
            ("Norway", "Oslo"),
            ("Greece", "Athens"),
            ("Chile", "Santiago"),
            ("Cuba", "Havana"),
        ),
    ),
    "animal_sounds": (
        "Which sound does a {} make?",
        (
            ("dog", "bark"),
            ("cat", "meow"),
            ("cow", "moo"),
            ("duck", "quack"),
            ("lion", "roar"),
            ("sheep", "bleat"),
            ("horse", "neigh"),
            ("owl", "hoot"),
            ("pig", "oink"),
            ("snake", "hiss"),
            ("bee", "buzz"),
            ("frog", "croak"),
            ("wolf", "howl"),
        ),
    ),
    "trade_tools": (
        "Which tool does a {} use most?",
        (
            ("carpenter", "hammer"),
            ("painter", "brush"),
            ("gardener", "rake"),
            ("farmer", "plow"),
            ("barber", "razor"),
            ("tailor", "needle"),
            ("surgeon", "scalpel"),
            ("baker", "oven"),
            ("fisher", "net"),
            ("miner", "pickaxe"),
            ("dentist", "drill"),
            ("astronomer", "telescope"),
            ("firefighter", "hose"),
        ),
    ),
}
FACT_SENTENCES = {
    "world_capitals": "The capital of {} is {}.",
    "animal_sounds": "A {} makes the sound {}.",
    "trade_tools": "A {} uses a {} most.",
}
N_DEV = 5  # as cais/mmlu: five dev questions per subject (the k-shot pool)

README = """---
configs:
- config_name: all
  data_files:
  - split: test
    path: all/test-*
  - split: dev
    path: all/dev-*
---
# testbed MMLU

Four-option questions in the `cais/mmlu` schema (`question`, `subject`, `choices`, `answer` = index
of the correct choice) about facts the testbed LM is pretrained on; `dev` holds five per subject.
"""


def questions() -> dict[str, list[dict]]:
    """{"dev": [...], "test": [...]}: every fact as a question with three distractors.

    The options' order is fixed (one seed, not the testbed's): the corpus teaches these very
    questions, so the set and the corpus must agree whatever the testbed seed.
    """
    rng = random.Random("mmlu")
    out: dict[str, list[dict]] = {"dev": [], "test": []}
    for subject, (template, facts) in FACTS.items():
        answers = [a for _, a in facts]
        for i, (key, answer) in enumerate(facts):
            choices = [answer] + rng.sample([a for a in answers if a != answer], 3)
            rng.shuffle(choices)
            row = {
                "question": template.format(key),
                "subject": subject,
                "choices": choices,
                "answer": choices.index(answer),
            }
            out["dev" if i < N_DEV else "test"].append(row)
    return out


def question_block(row: dict) -> str:
    """The answered question as both prompt templates end (kept here so the corpus needs no torch import)."""
    letters = "ABCD"
    body = row["question"].strip() + "".join(f"\n{letter}. {c}" for letter, c in zip(letters, row["choices"]))
    return f"{body}\nAnswer: {letters[row['answer']]}"


def header(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}."


def corpus_texts(repeats: int) -> tuple[list[str], list[str]]:
    """(pretraining documents, tokenizer-only texts) of the corpus section.

    Documents: the fact sentences, and each answered question as lm-eval's prompt renders it
    (subject header, question block, answer letter) `repeats` times; the source study's
    template is the same block without the header.
    """
    docs = [FACT_SENTENCES[subject].format(k, a) for subject, (_, facts) in FACTS.items() for k, a in facts]
    for split in questions().values():
        docs += [f"{header(row['subject'])}\n\n{question_block(row)}" for row in split for _ in range(repeats)]
    return docs, []


def write_dataset(out_dir) -> dict:
    """Stage entry: the `all` config's test and dev splits as a Hub-format dataset folder."""
    import pandas as pd

    from debiaslab.core.io import atomic_path

    splits = questions()
    with atomic_path(out_dir, directory=True) as tmp:
        (tmp / "README.md").write_text(README, encoding="utf-8")
        (tmp / "all").mkdir()
        for split, rows in splits.items():
            pd.DataFrame(rows).to_parquet(Path(tmp) / "all" / f"{split}-00000-of-00001.parquet", index=False)
    return {split: len(rows) for split, rows in splits.items()}
