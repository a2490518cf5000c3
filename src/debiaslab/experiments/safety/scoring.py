"""`safety`'s scoring entry: every response scored by the bias-type classifier and the reward model
(metrics/response_scores.py), into score-store rows, all records, and the source's per-bias-type files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The source's record keys (per-response JSON files).
RM_KEY = "deberta-rm-score"
BIAS_KEY = "bias-type-score"


@dataclass(frozen=True)
class ScoringModel:
    model: dict = field(default_factory=dict)  # a model spec (path, dtype, ...)
    batch_size: int = 32
    max_length: int = 512
    labels: dict = field(default_factory=dict)  # bias type → label name (classifier only)


def summarize(records, seed: int) -> list[dict]:
    """Score-store values: per bias type (`split`) the mean RM score and mean bias-type score, each with
    its bootstrap replicates over the responses (seeded by the run's `seed`)."""
    from debiaslab.core.statistics import Bootstrap

    boot = Bootstrap(seed)
    values = []
    for bias_type, part in records.groupby("bias_type", sort=True):
        for metric, column in (("rm_score", RM_KEY), ("bias_type_score", BIAS_KEY)):
            values.append(
                {"split": bias_type, "subset": "all", "metric": metric, **boot.of_mean(part[column].dropna())}
            )
    return values


def source_file_name(method: str, bias_type: str) -> str:
    """The source's per-run file name: `<model>_model_<bias>_responses_scores.json`."""
    return f"{method}_model_{bias_type}_responses_scores.json"


def score(job) -> dict:
    """`debiaslab score run --experiment safety` (job: experiments.base.ScoreJob; inputs: responses). The
    source-format files go beside scores.parquet."""
    return score_safety(
        job.inputs["responses"], job.settings, job.run, job.scores, job.records, Path(job.scores).parent
    )


def score_safety(responses_path, settings: dict, run, scores_out, records_out, out_dir) -> dict:
    """Stage entry: score every response with both models (each loaded once); write the store rows,
    all records (Parquet), and per bias type the source-format JSON plus the same as Parquet."""
    import json

    import pandas as pd

    from debiaslab import models
    from debiaslab.core.config import build
    from debiaslab.core.io import read_table, write_parquet, write_text
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.metrics.response_scores import label_probabilities, reward_scores

    classifier_s = build(ScoringModel, settings["bias_classifier"], "scoring.bias_classifier")
    reward_s = build(ScoringModel, settings["reward_model"], "scoring.reward_model")
    responses = read_table(responses_path, required=["bias_type", "prompt"], text=["response"])  # rows, text
    bias_types = list(settings["bias_types"])
    unknown = sorted(set(responses["bias_type"]) - set(bias_types))
    if unknown:
        from debiaslab.core.io import DataError

        raise DataError(f"{responses_path}: bias type(s) {unknown} not in the configured {bias_types}")

    prompts, texts = responses["prompt"].tolist(), responses["response"].fillna("").tolist()
    classifier = models.load_model(classifier_s.model, kind="seq-cls")
    tokenizer = models.load_tokenizer(classifier_s.model)
    bias = [0.0] * len(responses)
    for bias_type in bias_types:
        idx = [i for i, b in enumerate(responses["bias_type"]) if b == bias_type]
        probs = label_probabilities(
            classifier,
            tokenizer,
            [texts[i] for i in idx],
            classifier_s.labels[bias_type],
            classifier_s.batch_size,
            classifier_s.max_length,
        )
        for i, p in zip(idx, probs):
            bias[i] = p
    del classifier
    reward_model = models.load_model(reward_s.model, kind="seq-cls")
    rm = reward_scores(
        reward_model, models.load_tokenizer(reward_s.model), prompts, texts, reward_s.batch_size, reward_s.max_length
    )

    records = responses.copy()
    records[RM_KEY] = rm
    records[BIAS_KEY] = bias
    write_parquet(records_out, records)
    out_dir = Path(out_dir)
    for bias_type in bias_types:
        part = records[records["bias_type"] == bias_type]
        source = [
            {"prompt": p, "response": r, RM_KEY: float(s), BIAS_KEY: float(b)}
            for p, r, s, b in zip(part["prompt"], part["response"], part[RM_KEY], part[BIAS_KEY])
        ]
        stem = out_dir / source_file_name(run.method, bias_type)
        write_text(stem, json.dumps(source, indent=2, ensure_ascii=False) + "\n")  # the source's key order
        write_parquet(stem.with_suffix(".parquet"), pd.DataFrame(source))
    values = summarize(records, run.seed)
    write_scores(scores_out, score_rows(run, values, settings))
    return {v["split"] + ":" + v["metric"]: round(v["value"], 4) for v in values}
