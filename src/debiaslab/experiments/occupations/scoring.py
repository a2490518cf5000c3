"""`occupations`' scoring entry: a run's responses in, agentic/communal balance and length compliance out
(score-store rows, plus per-response records); the metric itself is metrics/balance.py's."""

from __future__ import annotations


def score(job) -> dict:
    """`debiaslab score run --experiment occupations` (job: experiments.base.ScoreJob; inputs: responses)."""
    return score_balance(job.inputs["responses"], job.settings, job.run, job.scores, job.records)


def score_balance(responses_path, settings: dict, run, scores_out, records_out) -> dict:
    from debiaslab.core.io import read_table, write_parquet
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.metrics.balance import score_responses

    # no rows, or a response that is not text: one line naming the file (an empty table used to score to
    # an empty score file, and the table silently averaged the other seeds)
    responses = read_table(responses_path, required=["split", "occupation", "prefix"], text=["response"])
    records, values = score_responses(responses, settings["min_words"], settings["max_words"], seed=run.seed)
    write_parquet(records_out, records)
    write_scores(scores_out, score_rows(run, values, settings))
    heldout = [v["value"] for v in values if v["metric"] == "and_balanced_rate" and v["subset"] == "all"]
    return {"responses": len(records), "and_balanced_rate_by_split": heldout}
