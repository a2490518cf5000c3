"""The default workflow end to end on the testbed: effects, caching, rerun scoping, lint."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import REPO, edited_config, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


def test_occupations_table_has_base_and_sft_rows_over_three_seeds(default_run):
    table = pd.read_csv(default_run / "results/tables/occupations.csv")
    assert set(zip(table["method"], table["split"])) >= {
        ("prompt_only", "train"), ("prompt_only", "heldout"), ("sft", "train"), ("sft", "heldout")}
    assert (table["n seeds"] == 3).all()
    md = (default_run / "results/tables/occupations.md").read_text()
    assert "±" in md and "heldout" in md


def test_sft_raises_heldout_and_balance_over_base(default_run):
    scores = pd.concat(pd.read_parquet(p) for p in (default_run / "results/scores/occupations").rglob("scores.parquet"))
    heldout = scores[(scores.split == "heldout") & (scores.subset == "all") & (scores.metric == "and_balanced_rate")]
    by_method = heldout.groupby("method")["value"].mean()
    # The testbed's planted bias gives the base ~0% AND-balance; SFT on balanced examples of
    # *other* occupations must lift held-out occupations by at least 30 points on average...
    assert by_method["sft"] - by_method["prompt_only"] >= 0.30, by_method
    # ... and in every seed, not just on average.
    per_seed = heldout.pivot_table(index="seed", columns="method", values="value")
    assert (per_seed["sft"] - per_seed["prompt_only"] > 0.15).all(), per_seed


def test_nothing_to_do_after_complete_run(default_run):
    proc = snakemake(default_run, "-n", "all")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]


def test_editing_sft_learning_rate_reruns_exactly_sft_branch(default_run):
    def edit(config):
        config["experiments"]["occupations"]["methods"]["sft"]["train"]["learning_rate"] = 0.001

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit)))
    seeds = (42, 123, 456)
    expected = (
        {("train_sft", f"results/train/occupations/testbed-lm/sft/seed~{s}/adapter") for s in seeds}
        | {("generate", f"results/generate/occupations/testbed-lm/sft/seed~{s}/responses.parquet") for s in seeds}
        | {("score_occupations", f"results/scores/occupations/testbed-lm/sft/seed~{s}/scores.parquet") for s in seeds}
        | {("table", "results/tables/occupations.csv")}
    )
    assert {j for j in jobs if j[0] != "all"} == expected


def test_adding_a_seed_adds_only_that_seeds_jobs(default_run):
    def edit(config):
        config["experiments"]["occupations"]["seeds"] = [42, 123, 456, 7]

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "seed.yaml")))
    rules_outputs = {j for j in jobs if j[0] != "all"}
    assert rules_outputs == {
        ("occupations_sft_data", "results/data/occupations/sft/seed~7/train.parquet"),
        ("train_sft", "results/train/occupations/testbed-lm/sft/seed~7/adapter"),
        ("generate", "results/generate/occupations/testbed-lm/sft/seed~7/responses.parquet"),
        ("generate", "results/generate/occupations/testbed-lm/prompt_only/seed~7/responses.parquet"),
        ("score_occupations", "results/scores/occupations/testbed-lm/sft/seed~7/scores.parquet"),
        ("score_occupations", "results/scores/occupations/testbed-lm/prompt_only/seed~7/scores.parquet"),
        ("table", "results/tables/occupations.csv"),
    }


def test_lint_has_no_findings():
    proc = snakemake(REPO, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize("configfile", sorted(p.name for p in (REPO / "config/experiments").glob("*.yaml")))
def test_full_scale_config_dry_runs(configfile):
    jobs = planned_jobs(REPO, "all", "--configfile", f"config/experiments/{configfile}")
    assert jobs, "a full-scale dry-run should schedule jobs"
    assert not any(rule.startswith("testbed") for rule, _ in jobs), "full-scale configs build no testbed"
