"""Generated arithmetic word problems in GSM8K's format and Hub layout (the `rm_forget` testbed data).

Two-step problems from a few templates; each answer is written as GSM8K writes them
(reasoning lines with `<<expr=value>>` annotations, then `#### N`), and the set is
saved as the Hub serves `openai/gsm8k`: `README.md` declaring a `main` config and
`main/{train,test}-00000-of-00001.parquet`. So `datasets.load_dataset(<folder>, "main")`
reads it through the same call that reads `openai/gsm8k`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

NAMES = ("Mia", "Tom", "Ava", "Leo", "Zoe", "Sam", "Ivy", "Max", "Nia", "Ben", "Eva", "Ray")
PRONOUNS = {
    "Mia": "she",
    "Ava": "she",
    "Zoe": "she",
    "Ivy": "she",
    "Nia": "she",
    "Eva": "she",
    "Tom": "he",
    "Leo": "he",
    "Sam": "he",
    "Max": "he",
    "Ben": "he",
    "Ray": "he",
}
ITEMS = ("apples", "books", "cards", "pencils", "shells", "stamps", "cookies", "marbles")


def _buy_give(rng, name, pron, item):
    a, b = rng.randint(5, 30), rng.randint(2, 20)
    c = rng.randint(1, a + b - 1)
    s, r = a + b, a + b - c
    q = (
        f"{name} has {a} {item}. {pron.capitalize()} buys {b} more {item} and then gives {c} {item} to a friend. "
        f"How many {item} does {name} have now?"
    )
    ans = (
        f"After buying, {name} has {a} + {b} = <<{a}+{b}={s}>>{s} {item}.\n"
        f"After giving {c} away, {pron} has {s} - {c} = <<{s}-{c}={r}>>{r} {item}.\n#### {r}"
    )
    return q, ans


def _boxes_eat(rng, name, pron, item):
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    s = a * b
    c = rng.randint(1, s - 1)
    r = s - c
    q = (
        f"{name} buys {a} boxes of {item}. Each box holds {b} {item}. {pron.capitalize()} uses {c} of them. "
        f"How many {item} are left?"
    )
    ans = (
        f"The boxes hold {a} * {b} = <<{a}*{b}={s}>>{s} {item} in total.\n"
        f"After using {c}, there are {s} - {c} = <<{s}-{c}={r}>>{r} {item} left.\n#### {r}"
    )
    return q, ans


def _pick_share(rng, name, pron, item):
    c, per = rng.randint(2, 6), rng.randint(2, 9)
    s = c * per
    a = rng.randint(1, s - 1)
    b = s - a
    q = (
        f"{name} collects {a} {item} in the morning and {b} {item} in the afternoon. "
        f"{pron.capitalize()} shares them equally among {c} friends. How many {item} does each friend get?"
    )
    ans = (
        f"{name} collects {a} + {b} = <<{a}+{b}={s}>>{s} {item} in all.\n"
        f"Each friend gets {s} / {c} = <<{s}/{c}={per}>>{per} {item}.\n#### {per}"
    )
    return q, ans


def _price_change(rng, name, pron, item):
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    s = a * b
    c = rng.choice([x for x in (50, 100) if x > s])
    r = c - s
    q = (
        f"One of the {item} costs {a} dollars. {name} buys {b} {item} and pays with {c} dollars. "
        f"How much change does {pron} get?"
    )
    ans = (
        f"The {item} cost {a} * {b} = <<{a}*{b}={s}>>{s} dollars.\n"
        f"The change is {c} - {s} = <<{c}-{s}={r}>>{r} dollars.\n#### {r}"
    )
    return q, ans


def _twice_total(rng, name, pron, item):
    a = rng.randint(3, 25)
    s = a * 2
    r = a + s
    q = (
        f"{name} finds {a} {item} on Monday and twice as many {item} on Tuesday. "
        f"How many {item} does {pron} find in total?"
    )
    ans = (
        f"On Tuesday {pron} finds {a} * 2 = <<{a}*2={s}>>{s} {item}.\n"
        f"In total {pron} finds {a} + {s} = <<{a}+{s}={r}>>{r} {item}.\n#### {r}"
    )
    return q, ans


TEMPLATES = (_buy_give, _boxes_eat, _pick_share, _price_change, _twice_total)


def problem(rng: random.Random) -> dict:
    """One {question, answer} row in GSM8K format."""
    name = rng.choice(NAMES)
    question, answer = rng.choice(TEMPLATES)(rng, name, PRONOUNS[name], rng.choice(ITEMS))
    return {"question": question, "answer": answer}


def problems(n: int, rng: random.Random) -> list[dict]:
    return [problem(rng) for _ in range(n)]


README = """---
configs:
- config_name: main
  data_files:
  - split: train
    path: main/train-*
  - split: test
    path: main/test-*
---
# testbed arithmetic word problems

Generated two-step arithmetic word problems in the format of `openai/gsm8k` (`main` config):
`question`, and `answer` = reasoning with `<<expr=value>>` annotations ending in `#### N`.
"""


@dataclass(frozen=True)
class ArithmeticSettings:
    n_train: int = 200
    n_test: int = 40
    seed: int = 0


def write_dataset(settings: dict, out_dir) -> dict:
    """Stage entry: the train and test splits as a Hub-format dataset folder."""
    import pandas as pd

    from debiaslab.core.config import build
    from debiaslab.core.io import atomic_path

    s = build(ArithmeticSettings, settings, "testbed.arithmetic")
    rng = random.Random(f"{s.seed}:arithmetic")
    splits = {"train": problems(s.n_train, rng), "test": problems(s.n_test, rng)}
    with atomic_path(out_dir, directory=True) as tmp:
        (tmp / "README.md").write_text(README, encoding="utf-8")
        (tmp / "main").mkdir()
        for split, rows in splits.items():
            pd.DataFrame(rows).to_parquet(Path(tmp) / "main" / f"{split}-00000-of-00001.parquet", index=False)
    return {split: len(rows) for split, rows in splits.items()}


def vocabulary(rng: random.Random, n_problems: int) -> list[str]:
    """Texts the tokenizer must know: questions and every styled answer, and every template word."""
    from debiaslab.data.answer_styles import variants

    texts = []
    for row in problems(n_problems, rng):
        texts.append(row["question"])
        texts += [v["response"] for v in variants(row["question"], row["answer"], rng)]
    # every name and item, capitalised pronouns, and the chat roles the reward model reads
    texts.append(" ".join(NAMES + ITEMS + ("He", "She", "user", "assistant")))
    return texts


def corpus_section(rng: random.Random, strength: float, n_problems: int):
    """`rm_forget`'s testbed corpus section: GSM8K-format problems and their styled answers, for the tokenizer
    only. The tiny reward model is trained from scratch on them (testbed/style_rm.py), so the shared LM's
    pretraining documents stay unchanged; `strength` does not apply."""
    from debiaslab.testbed.corpus import Corpus

    return Corpus(vocabulary=[("arithmetic", text) for text in vocabulary(rng, n_problems)])
