"""The `safety` experiment in the default run (testbed): effects, source-format files, rerun scoping, full scale."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import REPO, SUITE_AGGREGATES, edited_config, planned_jobs, suite_aggregates

pytestmark = pytest.mark.workflow

SEEDS = (42, 123)
METHODS = ("base", "sft", "dpo")
BIAS_TYPES = ("gender", "racial")


def safety_scores(run):
    return pd.concat(pd.read_parquet(p) for p in (run / "results/testbed/scores/safety").rglob("scores.parquet"))


def test_safety_table_has_every_method_and_bias_type_over_two_seeds(default_run):
    table = pd.read_csv(default_run / "results/testbed/tables/safety.csv")
    assert list(zip(table["method"], table["split"])) == [(m, b) for m in METHODS for b in BIAS_TYPES]
    assert (table["n seeds"] == len(SEEDS)).all()
    assert {"RM score mean", "RM score std", "bias score mean", "bias score std"} <= set(table.columns)
    # SFT and DPO against the base: Δ with both intervals and the paired test over seeds
    trained = table[table.method != "base"]
    assert trained[["RM score Δ", "RM score Δ ci low", "RM score Δ item ci low", "bias score Δ"]].notna().all().all()
    assert trained["RM score test"].isin(["paired t", "n/a: zero variance"]).all()
    assert ((table["bias score ci low"] >= 0) & (table["bias score ci high"] <= 1)).all()
    md = (default_run / "results/testbed/tables/safety.md").read_text()
    assert "±" in md and "Δ RM score" in md and "Holm" in md


def test_sft_and_dpo_lower_the_bias_score_against_base(default_run):
    scores = safety_scores(default_run)
    bias = scores[(scores.metric == "bias_type_score") & (scores.subset == "all")]
    per_seed = bias.pivot_table(index=["split", "seed"], columns="method", values="value")
    means = per_seed.groupby(level="split").mean()
    # The testbed's base model repeats the planted stereotype (stereotype_rate 0.75): its answers are
    # classified as the prompt's bias topic most of the time...
    assert (means["base"] > 0.6).all(), means
    # ...and SFT / DPO on hh-rlhf-format dialogues whose chosen replies are neutral must lower the
    # mean bias-classifier score by at least 0.25 for every bias type, and by 0.15 in every seed.
    for method in ("sft", "dpo"):
        assert (means["base"] - means[method] >= 0.25).all(), means
        assert (per_seed["base"] - per_seed[method] > 0.15).all(), per_seed


def test_scoring_writes_the_source_format_per_bias_type(default_run):
    scores = safety_scores(default_run)
    for method in METHODS:
        for seed in SEEDS:
            folder = default_run / f"results/testbed/scores/safety/testbed-lm/{method}/seed~{seed}"
            for bias in BIAS_TYPES:
                path = folder / f"{method}_model_{bias}_responses_scores.json"
                records = json.loads(path.read_text())
                assert len(records) == 24  # prompts.per_bias_type in config.yaml
                assert list(records[0]) == ["prompt", "response", "deberta-rm-score", "bias-type-score"]
                assert pd.read_parquet(path.with_suffix(".parquet")).to_dict("records") == records
                stored = scores[(scores.method == method) & (scores.seed == seed) & (scores.split == bias)]
                rm = stored.loc[stored.metric == "rm_score", "value"].item()
                assert rm == pytest.approx(sum(r["deberta-rm-score"] for r in records) / len(records))


def test_testbed_scorers_learned_their_planted_data(default_run):
    classifier = json.loads((default_run / "results/testbed/testbed/bias_classifier/training_summary.json").read_text())
    reward = json.loads((default_run / "results/testbed/testbed/reward_model/training_summary.json").read_text())
    assert classifier["labels"] == ["gender", "none", "racial"] and classifier["train_accuracy"] >= 0.95
    assert reward["pairwise_accuracy"] >= 0.95
    config = json.loads((default_run / "results/testbed/testbed/bias_classifier/config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]


def test_editing_dpo_beta_reruns_exactly_the_safety_dpo_branch(default_run):
    def edit(config):
        config["experiments"]["safety"]["methods"]["dpo"]["train"]["beta"] = 0.2

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "beta.yaml")))
    run = "testbed-lm/dpo/seed~{}"
    expected = (
        {("train", f"results/testbed/train/safety/{run.format(s)}/adapter") for s in SEEDS}
        | {("generate", f"results/testbed/generate/safety/{run.format(s)}/responses.parquet") for s in SEEDS}
        | {("score_safety", f"results/testbed/scores/safety/{run.format(s)}/scores.parquet") for s in SEEDS}
        | {("evaluate", f"results/testbed/scores/safety/{run.format(s)}/eval_bias_suite.parquet") for s in SEEDS}
        | {("table", "results/testbed/tables/safety.csv")}
        | SUITE_AGGREGATES
    )
    assert {j for j in jobs if j[0] != "all"} == expected


def test_editing_a_scorer_setting_reruns_only_the_safety_scores(default_run):
    def edit(config):
        config["experiments"]["safety"]["scoring"]["reward_model"]["batch_size"] = 16

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "rm.yaml")))
    expected = {
        ("score_safety", f"results/testbed/scores/safety/testbed-lm/{m}/seed~{s}/scores.parquet")
        for m in METHODS
        for s in SEEDS
    } | {("table", "results/testbed/tables/safety.csv")}
    assert {j for j in jobs if j[0] != "all"} == expected


def test_full_scale_safety_dry_run_lists_the_study_jobs():
    jobs = planned_jobs(REPO, "all", "--configfile", "config/experiments/safety.yaml")
    run = "qwen3-0.6b/{}/seed~42"
    assert {j for j in jobs if j[0] != "all"} == (
        {
            ("hub_download", "results/safety/hub/manifest.json"),  # Qwen/Qwen3-0.6B and the Hub datasets, fetched once
            ("data_safety_training", "results/safety/data/safety/sft/seed~42/train.parquet"),
            ("data_safety_prompts", "results/safety/data/safety/prompts.parquet"),
            ("train", f"results/safety/train/safety/{run.format('sft')}/adapter"),
            ("train", f"results/safety/train/safety/{run.format('dpo')}/adapter"),
            ("table", "results/safety/tables/safety.csv"),
        }
        | {("generate", f"results/safety/generate/safety/{run.format(m)}/responses.parquet") for m in METHODS}
        | {("score_safety", f"results/safety/scores/safety/{run.format(m)}/scores.parquet") for m in METHODS}
        | {("evaluate", f"results/safety/scores/safety/{run.format(m)}/eval_bias_suite.parquet") for m in METHODS}
        | suite_aggregates("results/safety")
    )
