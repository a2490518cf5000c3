"""`desired_distribution`'s data job: the template sentence table of every split (data/desired_distribution.py
reads the templates, occupations and gendered words), optionally a per-category sample of each split's
occupations (docs/experiments/desired_distribution.md#data)."""

from __future__ import annotations

from debiaslab.data.desired_distribution import SENTENCE_COLUMNS, sentence_rows


def sample_per_category(frame, per_category: dict, seed: int = 0):
    """The rows of at most per_category[split] occupations per (split, prof_gender), drawn with `seed`;
    row order (occupation-major) kept. A split missing from `per_category` (or None) keeps every occupation.
    Each (split, category) draws from its own generator, so one split's sample never depends on another's size."""
    import random

    keep = set()
    for (split, category), part in frame.groupby(["split", "prof_gender"], sort=True):
        names = list(dict.fromkeys(part["profession"]))
        n = per_category.get(split)
        chosen = names if n is None or n >= len(names) else random.Random(f"{seed}/{split}/{category}").sample(names, n)
        keep |= {(split, p) for p in chosen}
    chosen = [(s, p) in keep for s, p in zip(frame["split"], frame["profession"])]
    return frame[chosen].reset_index(drop=True)


def write_sentences(settings: dict, out) -> dict:
    """Stage entry: the sentence table of every split (from the packaged tables or `settings['path']`),
    optionally a per-category sample of each split's occupations (`per_category`, `seed`)."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    rows = sentence_rows(root=settings.get("path"))
    frame = pd.DataFrame(rows, columns=list(SENTENCE_COLUMNS))
    if any(v is not None for v in (settings.get("per_category") or {}).values()):
        frame = sample_per_category(frame, settings["per_category"], settings.get("seed", 0))
    write_parquet(out, frame)
    return {"sentences": len(frame), "professions": frame.groupby("split")["profession"].nunique().to_dict()}
