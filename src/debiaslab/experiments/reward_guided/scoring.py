"""`reward_guided`'s scoring entry: before/after metrics on the held-out MCQ prompts (one job per
model × method × seed).

For every grid cell of the run (dataset size × temperature; the base model has size 0), sample
one response per evaluation prompt with the same sampler the trainer used (adapter on), then:

- genbit_score, avg_bias_ratio: GenBit over the cell's responses as one corpus (GenBit's own use);
- mean_bias: mean per-response |avg_bias_ratio| (the reward's bias term, methods.reward);
- gendered_pronoun_rate: share of responses with he/him/his/himself/she/her/hers/herself;
- neutral_option_rate / stereotyped_option_rate: share whose first named option is the neutral one
  (they / the person) / the occupation's testbed stereotype (reported, not used in training);
- kl_to_base: mean token-wise KL(policy‖base) (the configured direction) over generated positions;
  exactly 0 for the base model, which is its own base;
- mean_reward: mean of −(bias + λ_KL·KL), the training reward;
- genbit_identity_lemmatizer: 1 if GenBit ran with the identity lemmatizer, 0 with stanza's.

Every metric but the lemmatizer flag carries bootstrap replicates over the cell's responses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from debiaslab.methods.policy import PolicySampling
from debiaslab.methods.reward import RewardSettings

METRICS = (
    "genbit_score",
    "avg_bias_ratio",
    "mean_bias",
    "gendered_pronoun_rate",
    "neutral_option_rate",
    "stereotyped_option_rate",
    "kl_to_base",
    "mean_reward",
    "genbit_identity_lemmatizer",
)


@dataclass(frozen=True)
class EvalSettings:
    n_prompts: int | None = None  # None: every evaluation prompt of the pool
    reward: RewardSettings = field(default_factory=RewardSettings)
    generation: PolicySampling = field(default_factory=PolicySampling)


def stereotyped_option(occupation: str) -> str | None:
    """The testbed's planted stereotype for an occupation, if it has one."""
    from debiaslab.data.occupations import stereotype

    try:
        return {"male": "he", "female": "she"}[stereotype(occupation)]
    except KeyError:
        return None


def cell_values(records, genbit, label: str, boot) -> list[dict]:
    """The cell's score-store values, each with its bootstrap replicates over the cell's responses (`boot`:
    a core.statistics.Bootstrap seeded by the run's seed, so every cell of a seed resamples the same prompts)."""
    responses = list(records["response"])
    values = boot.of_statistic(
        lambda idx: {k: genbit.score([responses[i] for i in idx])[k] for k in ("genbit_score", "avg_bias_ratio")},
        len(records),
    )
    for metric, column in (
        ("mean_bias", "bias"),
        ("gendered_pronoun_rate", "gendered_pronoun"),
        ("neutral_option_rate", "neutral_option"),
        ("stereotyped_option_rate", "stereotyped_option"),
        ("kl_to_base", "kl"),
        ("mean_reward", "reward"),
    ):
        values[metric] = boot.of_mean(records[column].astype(float))
    values["genbit_identity_lemmatizer"] = {"value": float(genbit.lemmatizer == "identity"), "n": len(records)}
    return [{"split": label, "subset": "all", "metric": k, **values[k]} for k in METRICS]


def evaluate(model_spec, pool_path, cells: list[dict], settings: EvalSettings, seed: int):
    """Records and score values for every cell {size, temperature, adapter (None for the base)}."""
    from contextlib import nullcontext

    import pandas as pd

    from debiaslab import models
    from debiaslab.core.io import read_table
    from debiaslab.core.progress import Progress
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import cell_label
    from debiaslab.data.mcq import NEUTRAL_OPTIONS, chosen_option, eval_prompts, has_gendered_pronoun
    from debiaslab.methods.policy import make_policy, model_inputs
    from debiaslab.methods.reward import Reward

    spec = models.ModelSpec.parse(model_spec)
    prompts = eval_prompts(
        read_table(pool_path, required=["split", "rank", "prompt", "question", "occupation"]), settings.n_prompts
    )
    tokenizer = models.load_tokenizer(spec, padding_side="left")
    model = models.load_model(spec)
    reward = Reward(settings.reward)
    inputs = model_inputs(tokenizer, prompts, settings.generation)
    boot = Bootstrap(seed)
    all_records, values = [], []
    progress = Progress("sample evaluation prompts", len(cells) * len(inputs), "responses")
    for k, cell in enumerate(cells):
        adapter = cell.get("adapter")
        if adapter:
            from peft import PeftModel  # only jobs with adapters pay for importing peft

            name = f"cell{k}"
            if isinstance(model, PeftModel):
                model.load_adapter(models.safe_adapter(adapter), adapter_name=name)
                model.set_adapter(name)
            else:
                model = models.attach_adapter(model, adapter, name=name)
            model.eval()
        policy = make_policy(model, tokenizer, spec, settings.generation, settings.reward.kl_direction)
        texts, kl = [None] * len(inputs), [0.0] * len(inputs)
        batch = settings.generation.batch_size
        # the base model is its own base: KL = 0 exactly; if adapters were loaded before, switch them off
        base_context = model.disable_adapter() if not adapter and hasattr(model, "disable_adapter") else nullcontext()
        with base_context:
            for b, start in enumerate(range(0, len(inputs), batch)):
                chunk = inputs[start : start + batch]
                # every cell samples batch b from the same seed: base and trained runs share random numbers
                for r in policy.rollout(chunk, cell["temperature"], seed=seed * 1000 + b, with_kl=bool(adapter)):
                    for i, text, value in zip(r.order, r.texts, r.kl.tolist()):
                        texts[start + i], kl[start + i] = text, value
                progress.update(len(chunk), cell=f"{k + 1}/{len(cells)}")
        scored = reward(texts, kl)
        records = prompts[["occupation", "activity", "neutral_option", "options", "prompt"]].copy()
        records.insert(0, "temperature", float(cell["temperature"]))
        records.insert(0, "size", int(cell["size"]))
        records["response"] = texts
        records["option"] = [chosen_option(t) for t in texts]
        records["gendered_pronoun"] = [has_gendered_pronoun(t) for t in texts]
        records["neutral_option"] = [o in NEUTRAL_OPTIONS for o in records["option"]]
        records["stereotyped_option"] = [
            o is not None and o == stereotyped_option(occ) for o, occ in zip(records["option"], records["occupation"])
        ]
        records["bias"], records["kl"], records["reward"] = scored["bias"], scored["kl"], scored["reward"]
        records["genbit_lemmatizer"] = reward.lemmatizer
        all_records.append(records)
        values += cell_values(records, reward.genbit, cell_label(int(cell["size"]), float(cell["temperature"])), boot)
    progress.close()
    return pd.concat(all_records, ignore_index=True), values, reward.lemmatizer


def score(job) -> dict:
    """`debiaslab score run --experiment reward_guided` (job: experiments.base.ScoreJob; inputs: pool;
    arguments: cells, each {size, temperature, adapter or null})."""
    return score_reward_guided(
        job.model, job.inputs["pool"], job.arguments["cells"], job.settings, job.run, job.scores, job.records
    )


def score_reward_guided(model_spec, pool_path, cells: list[dict], settings: dict, run, scores_out, records_out) -> dict:
    """Stage entry: evaluate every cell of one run; write score-store rows and per-response records."""
    from debiaslab.core.config import build
    from debiaslab.core.io import write_parquet
    from debiaslab.core.store import score_rows, write_scores

    typed = build(EvalSettings, settings, "reward_guided evaluation")
    records, values, lemmatizer = evaluate(model_spec, pool_path, cells, typed, run.seed)
    write_parquet(records_out, records)
    # the lemmatizer is part of what produced the numbers: it enters the rows' config fingerprint too
    write_scores(scores_out, score_rows(run, values, settings | {"genbit_lemmatizer": lemmatizer}))
    rates = {v["split"]: round(v["value"], 3) for v in values if v["metric"] == "gendered_pronoun_rate"}
    return {"cells": len(cells), "responses": len(records), "lemmatizer": lemmatizer, "gendered_pronoun_rate": rates}
