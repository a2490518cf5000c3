"""`rm_forget`'s data: GSM8K-format problems → styled answers (data/answer_styles.py), preference pairs per
mode and RM-Bench items (docs/experiments/rm_forget.md#data).

Problems come from any GSM8K-format set (data/gsm8k.py). Each question gets six answers (three
styles × {correct, incorrect}). Pairs per mode (chosen ≻ rejected, as the source builds
them; the forget-LoRA trainer swaps them): `style` (plain ≻ markdown, same correctness),
`correctness` (correct ≻ incorrect, same style), `cross` (correct-but-plain ≻
wrong-but-markdown). RM-Bench items hold the 3 correct responses as `chosen` and the 3
incorrect ones as `rejected`, each list in style order. Programmatic and seeded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from debiaslab.data.answer_styles import MARKDOWN, PLAIN_STYLES, STYLES, Variant
from debiaslab.data.gsm8k import build_rows, load_problems

# Each pair mode: the (chosen, rejected) variants compared per question.
PAIR_MODES: dict[str, tuple[tuple[Variant, Variant], ...]] = {
    "style": tuple(((s, c), (MARKDOWN, c)) for c in (True, False) for s in PLAIN_STYLES),
    "correctness": tuple(((s, True), (s, False)) for s in STYLES),
    "cross": tuple(((s, True), (MARKDOWN, False)) for s in PLAIN_STYLES),
}


def pairs(responses_by_variant: dict[Variant, str], mode: str) -> list[tuple[Variant, Variant]]:
    """(chosen, rejected) variants of `mode` (chosen = the preferred, unswapped direction)."""
    if mode not in PAIR_MODES:
        raise ValueError(f"unknown pair mode {mode!r}; known: {', '.join(PAIR_MODES)}")
    return [(c, r) for c, r in PAIR_MODES[mode] if c in responses_by_variant and r in responses_by_variant]


@dataclass(frozen=True)
class DatasetSettings:
    path: str = "openai/gsm8k"
    name: str | None = "main"
    train_split: str = "train"
    eval_split: str = "test"


@dataclass(frozen=True)
class StyleDataSettings:
    dataset: DatasetSettings = field(default_factory=DatasetSettings)
    n_train_questions: int | None = None  # None: every question of the split
    n_eval_questions: int | None = None
    seed: int = 0


def pair_table(rows: list[dict]):
    """Every mode's pairs from response rows: mode, question_id, prompt, chosen, rejected (+ their variants)."""
    import pandas as pd

    out = []
    by_question: dict[str, dict] = {}
    for row in rows:
        by_question.setdefault(row["question_id"], {"prompt": row["prompt"], "responses": {}})
        by_question[row["question_id"]]["responses"][(row["style"], row["correct"])] = row["response"]
    for mode in PAIR_MODES:
        for qid, q in by_question.items():
            for (cs, cc), (rs, rc) in pairs(q["responses"], mode):
                out.append(
                    {
                        "mode": mode,
                        "question_id": qid,
                        "prompt": q["prompt"],
                        "chosen": q["responses"][(cs, cc)],
                        "rejected": q["responses"][(rs, rc)],
                        "chosen_style": cs,
                        "chosen_correct": cc,
                        "rejected_style": rs,
                        "rejected_correct": rc,
                    }
                )
    return pd.DataFrame(out)


def item_table(rows: list[dict]):
    """RM-Bench items: prompt, chosen = [correct response per style], rejected = [incorrect per style]."""
    import pandas as pd

    items: dict[str, dict] = {}
    for row in rows:
        item = items.setdefault(
            row["question_id"],
            {"id": row["question_id"], "prompt": row["prompt"], "chosen": [None] * 3, "rejected": [None] * 3},
        )
        item["chosen" if row["correct"] else "rejected"][STYLES.index(row["style"])] = row["response"]
    return pd.DataFrame(list(items.values()))


def write_style_data(settings: dict, pairs_out, items_out) -> dict:
    """Stage entry: training pairs (every mode) from the train split, RM-Bench items from the eval split."""
    from debiaslab.core.config import ConfigError, build
    from debiaslab.core.io import write_parquet

    s = build(StyleDataSettings, settings, "rm_forget.data")
    d = s.dataset
    if d.train_split == d.eval_split:
        raise ConfigError(
            "rm_forget.data.dataset: train_split and eval_split must differ (evaluation is on held-out questions)"
        )
    train = build_rows(load_problems(d.path, d.name, d.train_split, s.n_train_questions, s.seed), d.train_split, s.seed)
    held = build_rows(load_problems(d.path, d.name, d.eval_split, s.n_eval_questions, s.seed), d.eval_split, s.seed)
    pair_frame = pair_table(train)
    write_parquet(pairs_out, pair_frame)
    write_parquet(items_out, item_table(held))
    return {
        "train_questions": len(train) // 6,
        "eval_items": len(held) // 6,
        "pairs_per_mode": pair_frame.groupby("mode").size().to_dict(),
    }
