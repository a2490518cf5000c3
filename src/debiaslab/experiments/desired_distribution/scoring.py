"""`desired_distribution`'s scoring entry: bias as KL to both desired distributions.

One job per (model, method, seed) loads the model once and writes
- score-store rows: for every detection split (test, valid) and subset (all and each
  prof_gender): `kl_equal_mean`, `kl_equal_var`, `kl_real_world_mean`, `kl_real_world_var`
  (true KL in nats; sample variance over occupations) and `p_male_mean`, each with bootstrap
  replicates over the occupations;
- per-occupation records: P_male, P_female and both KLs.

Utility (perplexity, MLM loss, GLUE) is not scored here: the experiment's `evaluations`
(evals/) score each run's model in jobs of their own, into the same score store.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvaluationSettings:
    splits: tuple[str, ...] = ("test", "valid")
    batch_size: int = 256  # sentences per forward pass
    max_length: int = 128


def detection_values(records, seed: int) -> list[dict]:
    """Score-store values (split, subset, metric, value, n, replicates) from per-occupation records; the
    replicates resample the occupations of each split and subset (seeded by the run's `seed`)."""
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.metrics.distribution_kl import DESIRED, summarize

    boot = Bootstrap(seed)
    values = []
    for split, part in records.groupby("split", sort=False):
        for desired in DESIRED:
            for row in summarize(part, f"kl_{desired}", boot):
                values.append(
                    {
                        "split": split,
                        "subset": row["subset"],
                        "metric": f"kl_{desired}_{row['stat']}",
                        "value": row["value"],
                        "n": row["n"],
                        "replicates": row["replicates"],
                    }
                )
        for row in summarize(part, "p_male", boot):
            if row["stat"] == "mean":
                values.append(
                    {
                        "split": split,
                        "subset": row["subset"],
                        "metric": "p_male_mean",
                        "value": row["value"],
                        "n": row["n"],
                        "replicates": row["replicates"],
                    }
                )
    return values


def score(job) -> dict:
    """`debiaslab score run --experiment desired_distribution` (job: experiments.base.ScoreJob; inputs:
    sentences, and the run's trained folder unless it is the base model)."""
    return score_desired_distribution(
        job.model, job.inputs.get("trained"), job.inputs["sentences"], job.settings, job.run, job.scores, job.records
    )


def score_desired_distribution(
    model_spec, trained, sentences_path, settings: dict, run, scores_out, records_out
) -> dict:
    import pandas as pd

    from debiaslab.core.config import build
    from debiaslab.core.io import write_parquet
    from debiaslab.core.progress import track
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.data.desired_distribution import read_sentences
    from debiaslab.methods.desired_kl import load_trained
    from debiaslab.metrics.distribution_kl import SentenceScorer, detection_records

    s = build(EvaluationSettings, settings, "experiments.desired_distribution.evaluation")
    model, tokenizer, kind = load_trained(model_spec, trained)
    records = []
    for split in track(s.splits, "score desired_distribution", unit="splits"):
        scorer = SentenceScorer(
            model, tokenizer, kind, read_sentences(sentences_path, split), s.max_length, s.batch_size
        )
        records.append(detection_records(scorer)[0])
    records = pd.concat(records, ignore_index=True)
    values = detection_values(records, run.seed)
    write_parquet(records_out, records)
    write_scores(scores_out, score_rows(run, values, settings))
    overall = {
        f"{v['split']}:{v['metric']}": round(v["value"], 4)
        for v in values
        if v["subset"] == "all" and v["metric"] in ("kl_equal_mean", "kl_real_world_mean")
    }
    return {"kind": kind, "occupations": len(records), **overall}
