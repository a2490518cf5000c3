"""Small synthetic GLUE-format tasks for the testbed MLM (`desired_distribution`'s utility check).

Two tasks in the Hub layout of `nyu-mll/glue` (one config per task; `train`, `validation`, `test`
splits with GLUE's columns and `idx`; test labels are -1 as GLUE hides them), so `evals.glue`
reads them with the same `load_dataset` call as the real benchmark:
- `sst2` (sentiment): an occupation sentence with two positive or two negative adjectives; label 1 = positive.
- `cola` (acceptability): a well-formed sentence (label 1) or the same words in a broken order (label 0).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

POSITIVE = ("kind", "cheerful", "patient", "honest", "calm", "generous", "reliable", "careful")
NEGATIVE = ("rude", "lazy", "careless", "dishonest", "grumpy", "selfish", "unreliable", "impatient")
OCCUPATIONS = ("architect", "baker", "chef", "doctor", "farmer", "nurse", "pilot", "teacher", "writer", "tailor")
OBJECTS = ("the report", "the meal", "the plan", "the house", "the garden", "the letter")
VERBS = ("finished", "checked", "planned", "cleaned", "wrote", "built")
TASKS = ("sst2", "cola")


def sst2_row(rng: random.Random) -> dict:
    label = rng.randint(0, 1)
    a, b = rng.sample(POSITIVE if label else NEGATIVE, 2)
    return {"sentence": f"the {rng.choice(OCCUPATIONS)} was {a} and {b} with everyone .", "label": label}


def cola_row(rng: random.Random) -> dict:
    words = ["the", rng.choice(OCCUPATIONS), rng.choice(VERBS), *rng.choice(OBJECTS).split(), "quickly"]
    label = rng.randint(0, 1)
    if not label:
        shuffled = words[:]
        while shuffled == words:
            rng.shuffle(shuffled)
        words = shuffled
    return {"sentence": " ".join(words) + " .", "label": label}


ROWS = {"sst2": sst2_row, "cola": cola_row}


def vocabulary() -> list[str]:
    """Every word the tasks use, for the MLM tokenizer."""
    return [
        " ".join(POSITIVE + NEGATIVE + OCCUPATIONS + VERBS + OBJECTS + ("was", "and", "with", "everyone", "quickly"))
    ]


README = """---
configs:
{configs}
---
# testbed GLUE

Synthetic tasks in the format of `nyu-mll/glue`: `sst2` (sentence, label: 1 positive) and `cola`
(sentence, label: 1 acceptable); `idx` numbers the rows; test labels are -1.
"""


@dataclass(frozen=True)
class GlueSetSettings:
    n_train: int = 256
    n_validation: int = 64
    n_test: int = 32
    seed: int = 0


def write_dataset(settings: dict, out_dir) -> dict:
    """Stage entry: every task's splits as a Hub-format dataset folder."""
    import pandas as pd

    from debiaslab.core.config import build
    from debiaslab.core.io import atomic_path

    s = build(GlueSetSettings, settings, "testbed.glue")
    sizes = {"train": s.n_train, "validation": s.n_validation, "test": s.n_test}
    configs = "\n".join(
        f"- config_name: {task}\n  data_files:\n"
        + "".join(f"  - split: {split}\n    path: {task}/{split}-*\n" for split in sizes)
        for task in TASKS
    )
    with atomic_path(out_dir, directory=True) as tmp:
        (tmp / "README.md").write_text(README.format(configs=configs.rstrip()), encoding="utf-8")
        for task in TASKS:
            rng = random.Random(f"{s.seed}:glue:{task}")
            (tmp / task).mkdir()
            for split, n in sizes.items():
                rows = [ROWS[task](rng) | {"idx": i} for i in range(n)]
                if split == "test":
                    rows = [r | {"label": -1} for r in rows]
                pd.DataFrame(rows).to_parquet(Path(tmp) / task / f"{split}-00000-of-00001.parquet", index=False)
    return {task: sizes for task in TASKS}
