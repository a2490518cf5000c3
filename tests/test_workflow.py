"""The default workflow end to end on the testbed: effects, caching, rerun scoping, lint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, SUITE_AGGREGATES, edited_config, planned_jobs, snakemake

pytestmark = pytest.mark.workflow


def test_occupations_table_has_base_and_sft_rows_over_three_seeds(default_run):
    table = pd.read_csv(default_run / "results/testbed/tables/occupations.csv")
    assert set(zip(table["method"], table["split"])) >= {
        ("prompt_only", "train"),
        ("prompt_only", "heldout"),
        ("sft", "train"),
        ("sft", "heldout"),
    }
    assert (table["n seeds"] == 3).all()
    md = (default_run / "results/testbed/tables/occupations.md").read_text()
    assert "±" in md and "heldout" in md


def test_sft_raises_heldout_and_balance_over_base(default_run):
    scores = pd.concat(
        pd.read_parquet(p) for p in (default_run / "results/testbed/scores/occupations").rglob("scores.parquet")
    )
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


AGGREGATES = {
    ("table", "results/testbed/tables/occupations.csv"),
    ("figure", "results/testbed/figures/occupations_per_occupation.png"),
}
# new responses are rescored for fluency: one job for every run (its first output names it)
FLUENCY = {
    ("fluency_occupations", "results/testbed/scores/occupations/testbed-lm/prompt_only/seed~42/eval_fluency.parquet")
}
OCC_METHODS = ("prompt_only", "gen_filter", "sft", "dpo", "inlp", "constrained")


def test_editing_sft_learning_rate_reruns_exactly_sft_branch(default_run):
    def edit(config):
        config["experiments"]["occupations"]["methods"]["sft"]["train"]["learning_rate"] = 0.001

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit)))
    seeds = (42, 123, 456)
    expected = (
        {("train", f"results/testbed/train/occupations/testbed-lm/sft/seed~{s}/adapter") for s in seeds}
        | {
            ("generate", f"results/testbed/generate/occupations/testbed-lm/sft/seed~{s}/responses.parquet")
            for s in seeds
        }
        | {
            ("score_occupations", f"results/testbed/scores/occupations/testbed-lm/sft/seed~{s}/scores.parquet")
            for s in seeds
        }
        | {
            ("evaluate", f"results/testbed/scores/occupations/testbed-lm/sft/seed~{s}/eval_bias_suite.parquet")
            for s in seeds
        }
        | AGGREGATES
        | SUITE_AGGREGATES
        | FLUENCY
    )
    assert {j for j in jobs if j[0] != "all"} == expected


def test_editing_a_decoding_method_reruns_only_its_generations(default_run):
    def edit(config):
        config["experiments"]["occupations"]["methods"]["gen_filter"]["k"] = 4

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "k.yaml")))
    seeds = (42, 123, 456)
    assert {j for j in jobs if j[0] != "all"} == (
        {
            ("generate", f"results/testbed/generate/occupations/testbed-lm/gen_filter/seed~{s}/responses.parquet")
            for s in seeds
        }
        | {
            ("score_occupations", f"results/testbed/scores/occupations/testbed-lm/gen_filter/seed~{s}/scores.parquet")
            for s in seeds
        }
        | AGGREGATES
        | FLUENCY
    )


def test_editing_table_settings_reruns_only_the_table(default_run):
    def edit(config):
        config["experiments"]["occupations"]["table"] = {"decimals": 2}

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "table.yaml")))
    assert {j for j in jobs if j[0] != "all"} == AGGREGATES


def test_adding_a_seed_adds_only_that_seeds_jobs(default_run):
    def edit(config):
        config["experiments"]["occupations"]["seeds"] = [42, 123, 456, 7]

    jobs = {
        j
        for j in planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "seed.yaml")))
        if j[0] != "all"
    }
    assert AGGREGATES | SUITE_AGGREGATES <= jobs
    # the fluency job gains seed 7's outputs (its first output is seed 42's)
    assert all("seed~7" in out for rule, out in jobs - AGGREGATES - SUITE_AGGREGATES - FLUENCY), sorted(
        jobs - AGGREGATES
    )
    assert {
        ("generate", f"results/testbed/generate/occupations/testbed-lm/{m}/seed~7/responses.parquet")
        for m in OCC_METHODS
    } <= jobs
    assert {rule for rule, _ in jobs} >= {
        "data_occupations_training",
        "train",
        "generate",
        "score_occupations",
    }


def test_lint_has_no_findings():
    proc = snakemake(REPO, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.parametrize("configfile", sorted(p.name for p in (REPO / "config/experiments").glob("*.yaml")))
def test_full_scale_config_dry_runs(configfile):
    jobs = planned_jobs(REPO, "all", "--configfile", f"config/experiments/{configfile}")
    assert jobs, "a full-scale dry-run should schedule jobs"
    assert not any(rule.startswith("testbed") for rule, _ in jobs), "full-scale configs build no testbed"


def test_bundle_round_trip_rebuilds_only_the_table_byte_identical(default_run, tmp_path):
    from conftest import copy_workflow

    snakemake(default_run, "--cores", "1", "results/testbed/bundle.tar.gz")
    fresh = copy_workflow(tmp_path / "fresh_clone")
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "debiaslab"),
            "unbundle",
            str(default_run / "results/testbed/bundle.tar.gz"),
            "--dest",
            str(fresh),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert (fresh / "results/testbed/bundle/manifest.json").is_file() and not (
        fresh / "results/testbed/generate"
    ).exists()
    jobs = planned_jobs(fresh, "results/testbed/tables/occupations.csv")
    assert jobs == {("table", "results/testbed/tables/occupations.csv")}
    snakemake(fresh, "--cores", "1", "results/testbed/tables/occupations.csv")
    for ext in ("csv", "md", "tex"):
        assert (fresh / f"results/testbed/tables/occupations.{ext}").read_bytes() == (
            default_run / f"results/testbed/tables/occupations.{ext}"
        ).read_bytes(), ext


def test_report_contains_every_table_and_figure(default_run):
    snakemake(default_run, "--report", "results/report.html")
    html = (default_run / "results/report.html").read_text(errors="replace")
    tables = sorted(p.name for p in (default_run / "results/testbed/tables").glob("*.csv"))
    figures = sorted(p.name for p in (default_run / "results/testbed/figures").glob("*.png"))
    assert tables and figures
    for name in tables + figures:
        assert name in html, name
    # every caption renders: no docutils warning (the training-curves caption rendered "Figure ````" and two)
    assert "System Message" not in html and "Figure ````" not in html
    assert html.count("Holm") >= len(tables)  # each table's caption names its correction
