"""`rm_forget`'s scoring entry, the λ sweep: one forget-LoRA, every λ, the reward model loaded once.

Every RM-Bench item's six responses are encoded once and scored at each λ with the
adapter's scaling set to −λ·α/r (methods/forget_lora.subtracted). From the same six
scores per item come RM-Bench hard/normal/easy/mean and the pairwise accuracy of each
pair mode (the pairs experiments/rm_forget/data.PAIR_MODES defines). Score-store rows carry λ as
`subset = "lambda=<λ>"` (split `heldout`); records hold every response's score at every λ.
"""

from __future__ import annotations

from dataclasses import dataclass

FULL_SWEEP = (-1.0, -0.5, -0.2, 0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class SweepSettings:
    lambdas: tuple[float, ...] = FULL_SWEEP
    batch_size: int = 32
    base_adapter: str | None = None


def item_responses(items) -> list[dict]:
    """RM-Bench items (id, prompt, chosen[3], rejected[3]) as one row per response."""
    from debiaslab.core.io import DataError
    from debiaslab.data.answer_styles import STYLES

    rows = []
    for n, item in enumerate(items.itertuples(index=False)):
        for correct, responses in ((True, item.chosen), (False, item.rejected)):
            if len(responses) != len(STYLES):
                raise DataError(f"items row {n}: expected {len(STYLES)} responses per side, got {len(responses)}")
            for style, text in zip(STYLES, responses):
                rows.append(
                    {"id": item.id, "prompt": item.prompt, "style": style, "correct": correct, "response": text}
                )
    return rows


def sweep_metrics(rows: list[dict], scores: list[float], boot) -> list[dict]:
    """Score-store values for one λ from the per-response scores, each with its replicates over the items
    (questions; `boot`: a core.statistics.Bootstrap). Every λ has the same items, so the same
    resamples: differences between λ are paired by item."""
    import numpy as np

    from debiaslab.data.answer_styles import STYLES
    from debiaslab.experiments.rm_forget.data import PAIR_MODES
    from debiaslab.metrics.rmbench import mode_accuracy, rmbench_accuracy

    by_item: dict[str, dict] = {}
    for row, value in zip(rows, scores):
        by_item.setdefault(row["id"], {})[(row["style"], row["correct"])] = value
    items = list(by_item.values())
    chosen = np.array([[s[(st, True)] for st in STYLES] for s in items])
    rejected = np.array([[s[(st, False)] for st in STYLES] for s in items])

    def metrics(idx) -> dict[str, float]:
        out = {f"rmbench_{k}": v for k, v in rmbench_accuracy(chosen[idx], rejected[idx]).items()}
        picked = [items[i] for i in idx]
        out.update({f"pair_acc_{mode}": mode_accuracy(picked, pairs)[0] for mode, pairs in PAIR_MODES.items()})
        return out

    values = boot.of_statistic(metrics, len(items))
    for mode, pairs in PAIR_MODES.items():  # n of a pair accuracy: its pairs
        values[f"pair_acc_{mode}"]["n"] = mode_accuracy(items, pairs)[1]
    return [{"metric": k, **v} for k, v in values.items()]


def score(job) -> dict:
    """`debiaslab score run --experiment rm_forget` (job: experiments.base.ScoreJob; inputs: adapter, rmbench)."""
    return score_sweep(
        job.model, job.inputs["adapter"], job.inputs["rmbench"], job.settings, job.run, job.scores, job.records
    )


def score_sweep(model, adapter, items_path, settings: dict, run, scores_out, records_out) -> dict:
    import pandas as pd

    from debiaslab import models
    from debiaslab.core.config import ConfigError, build
    from debiaslab.core.io import read_table, write_parquet
    from debiaslab.core.progress import track
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import lambda_subset, score_rows, write_scores
    from debiaslab.data.reward_inputs import encode, score
    from debiaslab.methods.forget_lora import load_reward_model, subtracted

    s = build(SweepSettings, settings, "rm_forget.sweep")
    if not s.lambdas:
        raise ConfigError("rm_forget.sweep.lambdas: must not be empty")
    items = read_table(items_path, required=["id", "prompt", "chosen", "rejected"])  # no rows: one line
    rows = item_responses(items)
    spec = models.ModelSpec.parse(model)
    tokenizer = models.load_tokenizer(spec, padding_side="right")
    reward_model = load_reward_model(spec, s.base_adapter, tokenizer=tokenizer)
    reward_model = models.attach_adapter(reward_model, adapter)
    reward_model.eval()
    encoded = encode(tokenizer, [r["prompt"] for r in rows], [r["response"] for r in rows])

    values, records = [], []
    boot = Bootstrap(run.seed)
    for lam in track(s.lambdas, "reward-model sweep", unit="lambdas"):
        with subtracted(reward_model, lam):
            scores = score(reward_model, tokenizer, encoded, s.batch_size)
        for v in sweep_metrics(rows, scores, boot):
            values.append({"split": "heldout", "subset": lambda_subset(lam), **v})
        records += [
            {"id": r["id"], "style": r["style"], "correct": r["correct"], "lambda": float(lam), "score": v}
            for r, v in zip(rows, scores)
        ]
    write_parquet(records_out, pd.DataFrame(records))
    write_scores(scores_out, score_rows(run, values, settings))
    hard = {v["subset"]: round(v["value"], 3) for v in values if v["metric"] == "rmbench_hard"}
    return {"items": len(items), "lambdas": len(s.lambdas), "rmbench_hard": hard}
