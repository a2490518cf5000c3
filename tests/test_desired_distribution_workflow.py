"""desired_distribution on the testbed: planted bias detected, kl_equal halves it, utility holds, table, reruns."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import edited_config, planned_jobs

pytestmark = pytest.mark.workflow

EXP = "desired_distribution"
SEEDS = (42, 52)


def _scores(run: Path, method: str) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in (run / f"results/scores/{EXP}/testbed-mlm/{method}").rglob("scores.parquet"))


def _value(frame, split, subset, metric):
    hit = frame[(frame.split == split) & (frame.subset == subset) & (frame.metric == metric)]
    return hit.set_index("seed")["value"]


def test_detection_runs_on_all_225_real_occupations(default_run):
    records = pd.read_parquet(default_run / f"results/scores/{EXP}/testbed-mlm/base/seed~42/records.parquet")
    assert len(records) == 225 and records["profession"].nunique() == 225
    assert set(records["split"]) == {"train", "valid", "test"}
    assert records[["p_male", "p_female"]].sum(axis=1).round(9).eq(1.0).all()


def test_base_testbed_mlm_shows_the_planted_bias(default_run):
    records = pd.read_parquet(default_run / f"results/scores/{EXP}/testbed-mlm/base/seed~42/records.parquet")
    by_category = records.groupby("prof_gender")["p_male"].mean()
    # planted: male-dominated occupations ~99 % male, female-dominated ~99 % female (bias_strength 0.9)
    assert by_category["male_dominated"] - by_category["female_dominated"] > 0.3, by_category
    assert records["p_male"].corr(records["male_dist"]) > 0.5
    assert records["kl_equal"].mean() > 0.05


def test_kl_equal_halves_test_kl_and_keeps_utility(default_run):
    before, after = _scores(default_run, "base"), _scores(default_run, "kl_equal")
    kl_before = _value(before, "test", "all", "kl_equal_mean").iloc[0]
    kl_after = _value(after, "test", "all", "kl_equal_mean")
    assert sorted(kl_after.index) == list(SEEDS)
    # acceptance: the test split (occupations and templates never trained on) KL at least halves, in every seed
    assert (kl_after <= 0.5 * kl_before).all(), (kl_before, kl_after.to_dict())
    # utility tolerance: held-out MLM loss (15 % masked, same masks) within +10 % of the base model,
    # held-out pseudo-perplexity within +15 %
    loss_before = _value(before, "testbed_heldout", "all", "mlm_loss").iloc[0]
    ppl_before = _value(before, "testbed_heldout", "all", "perplexity").iloc[0]
    assert (_value(after, "testbed_heldout", "all", "mlm_loss") <= 1.10 * loss_before).all()
    assert (_value(after, "testbed_heldout", "all", "perplexity") <= 1.15 * ppl_before).all()


def test_kl_real_world_reduces_kl_to_the_real_world_distribution(default_run):
    before, after = _scores(default_run, "base"), _scores(default_run, "kl_real_world")
    kl_before = _value(before, "test", "all", "kl_real_world_mean").iloc[0]
    assert (_value(after, "test", "all", "kl_real_world_mean") < 0.8 * kl_before).all()


def test_trained_mlm_is_a_full_hub_format_model_folder(default_run):
    from debiaslab import models

    folder = default_run / f"results/train/{EXP}/testbed-mlm/kl_equal/seed~42/model"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training_summary.json"):
        assert (folder / name).is_file(), name
    assert not (folder / "adapter_config.json").exists()
    assert type(models.load_model(str(folder))).__name__ == "BertForMaskedLM"
    summary = json.loads((folder / "training_summary.json").read_text())
    assert summary["best_epoch"] >= 1 and summary["history"][0]["epoch"] == 0


def test_table_pairs_before_and_after_per_category(default_run):
    table = pd.read_csv(default_run / f"results/tables/{EXP}.csv")
    bias = table[table.kind == "bias"]
    assert set(bias["method"]) == {"kl_equal", "kl_real_world"}
    assert set(bias["subset"]) == {"all", "male_dominated", "balanced", "female_dominated"}
    assert (bias["n_seeds"] == len(SEEDS)).all() and (bias["split"] == "test").all()
    assert set(table[table.kind == "utility"]["metric"]) == {"mlm_loss", "perplexity"}
    md = (default_run / f"results/tables/{EXP}.md").read_text()
    assert "reduction %" in md and "±" in md and "batchmean" in md


def test_editing_kl_equal_learning_rate_reruns_exactly_its_branch(default_run):
    def edit(config):
        config["experiments"][EXP]["methods"]["kl_equal"]["train"]["learning_rate"] = 0.0005

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "dd_lr.yaml")))
    assert {j for j in jobs if j[0] != "all"} == (
        {("train_desired_kl", f"results/train/{EXP}/testbed-mlm/kl_equal/seed~{s}/model") for s in SEEDS}
        | {("score_desired_distribution", f"results/scores/{EXP}/testbed-mlm/kl_equal/seed~{s}/scores.parquet")
           for s in SEEDS}
        | {("table", f"results/tables/{EXP}.csv")}
    )


def test_causal_lora_variant_trains_an_adapter_and_scores_it(default_run, tmp_path):
    """The causal-LM variant (LoRA, λ·L_norm, no MLM term) on the testbed causal LM, end to end by hand."""
    from debiaslab.aggregate.store import RunId
    from debiaslab.methods.train import run
    from debiaslab.metrics.desired_distribution import score_desired_distribution

    lm = json.dumps({"path": str(default_run / "results/testbed/lm"), "kind": "causal"})
    sentences = default_run / f"results/data/{EXP}/sentences.parquet"
    summary = run("kl_real_world", model=lm, data=str(sentences), seed=42, out=tmp_path / "adapter",
                  checkpoints=tmp_path / "ckpt",
                  settings={"learning_rate": 0.001, "batch_size": 16, "eval_batch_size": 34, "max_epochs": 1,
                            "lora": {"r": 4, "alpha": 8, "dropout": 0.0,
                                     "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                        "up_proj", "down_proj"]}})
    assert summary["kind"] == "causal" and summary["epochs"] == 1
    assert (tmp_path / "adapter/adapter_config.json").is_file() and not (tmp_path / "ckpt").exists()
    history = json.loads((tmp_path / "adapter/training_summary.json").read_text())["history"]
    lambdas = [h["train_lambda"] for h in history[1:]]
    assert all(0.8 <= lam <= 1.5 for lam in lambdas)  # the clamp ranges (mean over batches)
    assert set(history[-1]["tracker"]) == {"male_dominated", "balanced", "female_dominated"}
    settings = {"splits": ["test"], "corpora": [{"name": "heldout", "path": str(default_run / "results/testbed/corpus.parquet"),
                                                 "where": {"section": "desired_distribution_heldout"}, "limit": 50}]}
    out = score_desired_distribution(lm, str(tmp_path / "adapter"), str(sentences), settings,
                                     RunId(EXP, "testbed-lm", "kl_real_world", 42), tmp_path / "s.parquet", tmp_path / "r.parquet")
    scores = pd.read_parquet(tmp_path / "s.parquet")
    assert {"kl_equal_mean", "kl_real_world_mean", "perplexity"} <= set(scores["metric"])
    assert len(pd.read_parquet(tmp_path / "r.parquet")) == 45 and out["kind"] == "causal"
