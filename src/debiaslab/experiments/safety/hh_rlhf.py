"""Anthropic/hh-rlhf dialogues as SFT `messages` and conversational DPO pairs (docs/experiments/safety.md#data).

Each row holds two strings, `chosen` and `rejected`, of turns written as
"\\n\\nHuman: …\\n\\nAssistant: …". Turns are split on those markers themselves, so a
message that contains ":" stays whole. (The source split with a regex that cut a
message at its first colon; this is the documented fix.)

- SFT: the chosen dialogue as chat `messages` (loss on the whole conversation).
- DPO: prompt = every turn but the last (TRL adds the generation prompt);
  chosen / rejected = the final assistant turn of each dialogue.

Rows that cannot make a valid example are skipped and counted by reason, not
silently dropped: a dialogue that ends on a Human turn or with an empty reply, and
(DPO only) a pair whose two dialogues differ before the final turn — there the
"preference" is not over one prompt. The source kept such rows; this is a deviation.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from debiaslab.core.io import DataError

# A marker is "Human:" or "Assistant:" at the very start or after a blank line.
MARKER = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")
ROLES = {"Human": "user", "Assistant": "assistant"}


def split_turns(text: str, where: str = "dialogue") -> list[dict[str, str]]:
    """[{role, content}, ...] in order; content is everything up to the next marker, stripped."""
    if not isinstance(text, str):
        raise DataError(f"{where}: expected a dialogue string, got {type(text).__name__}")
    pieces = MARKER.split(text)
    head, rest = pieces[0], pieces[1:]
    if not rest:
        raise DataError(f"{where}: no 'Human:' or 'Assistant:' turn marker found in {text[:80]!r}")
    if head.strip():
        raise DataError(f"{where}: text before the first turn marker: {head[:80]!r}")
    return [{"role": ROLES[rest[i]], "content": rest[i + 1].strip()} for i in range(0, len(rest), 2)]


@dataclass(frozen=True)
class Parsed:
    chosen: list[dict[str, str]]
    rejected: list[dict[str, str]]


def _ends_on_reply(turns: list[dict[str, str]]) -> str | None:
    if turns[-1]["role"] != "assistant":
        return "final turn is not the assistant's"
    if not turns[-1]["content"]:
        return "empty final reply"
    return None


def sft_example(parsed: Parsed) -> tuple[dict | None, str | None]:
    problem = _ends_on_reply(parsed.chosen)
    return (None, problem) if problem else ({"messages": parsed.chosen}, None)


def dpo_example(parsed: Parsed) -> tuple[dict | None, str | None]:
    for turns in (parsed.chosen, parsed.rejected):
        problem = _ends_on_reply(turns)
        if problem:
            return None, problem
    if parsed.chosen[:-1] != parsed.rejected[:-1]:
        return None, "chosen and rejected differ before the final turn"
    return {"prompt": parsed.chosen[:-1], "chosen": parsed.chosen[-1:], "rejected": parsed.rejected[-1:]}, None


BUILDERS = {"sft": sft_example, "dpo": dpo_example}


def build_examples(rows: list[dict], source: str, what: str) -> tuple[list[dict], Counter]:
    """SFT or DPO examples from raw {chosen, rejected} rows, plus skip counts by reason."""
    examples, skipped = [], Counter()
    for row in rows:
        where = f"{source}: row {row['row']}"
        parsed = Parsed(
            split_turns(row["chosen"], f"{where} (chosen)"), split_turns(row["rejected"], f"{where} (rejected)")
        )
        example, problem = BUILDERS[what](parsed)
        if problem:
            skipped[problem] += 1
        else:
            examples.append({"row": row["row"], **example})
    return examples, skipped


def sample_indices(size: int, n: int, seed: int, where: str) -> list[int]:
    """n distinct row indices drawn with numpy's default_rng(seed), in draw order.

    The source sampled its 10,000 hh-rlhf rows "with numpy seed 42"; its exact call is not
    recorded, so the rows drawn here may differ from its sample (same size, same seed).
    """
    import numpy as np

    if n > size:
        raise DataError(f"{where}: asked for {n} rows but it has only {size}")
    return np.random.default_rng(seed).choice(size, size=n, replace=False).tolist()


def sample_rows(source: str, split: str, n_rows: int, seed: int) -> list[dict]:
    """n seeded rows {row, chosen, rejected} of the dataset (row = index in the split)."""
    from debiaslab.hub.datasets import load

    dataset = load(source, split)
    missing = {"chosen", "rejected"} - set(dataset.column_names)
    if missing:
        raise DataError(f"{source} [{split}]: missing column(s) {sorted(missing)}; found {dataset.column_names}")
    indices = sample_indices(len(dataset), n_rows, seed, f"{source} [{split}]")
    picked = dataset.select(indices)
    return [{"row": i, "chosen": c, "rejected": r} for i, c, r in zip(indices, picked["chosen"], picked["rejected"])]


def write_data(settings: dict, seed: int, sft_out, dpo_out) -> dict:
    """Stage entry: one seeded sample of rows → the SFT table and the DPO table (same rows)."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    rows = sample_rows(settings["dataset"], settings["split"], settings["n_rows"], seed)
    summary = {"sampled": len(rows)}
    for what, out in (("sft", sft_out), ("dpo", dpo_out)):
        examples, skipped = build_examples(rows, settings["dataset"], what)
        if not examples:
            raise DataError(
                f"{settings['dataset']}: none of the {len(rows)} sampled rows makes a {what} example ({dict(skipped)})"
            )
        write_parquet(out, pd.DataFrame(examples))
        summary[what] = {"examples": len(examples), "skipped": dict(skipped)}
    return summary
