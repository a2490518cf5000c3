"""reward_guided end to end on the testbed: effects, artifacts, rerun scoping, the rloo wiring, config rules."""

import copy
import json

import pandas as pd
import pytest

from conftest import REPO, SUITE_AGGREGATES, edited_config, planned_jobs
from debiaslab.core.config import ConfigError, load_yaml
from debiaslab.experiments.registry import validate

SEEDS = (42, 123)
TEMPERATURES = ("0.7", "1")
MAX_STEPS = load_yaml(REPO / "config/config.yaml")["experiments"]["reward_guided"]["methods"]["reinforce"]["train"][
    "max_steps"
]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scores(default_run):
    files = sorted((default_run / "results/testbed/scores/reward_guided").rglob("scores.parquet"))
    return pd.concat(pd.read_parquet(p) for p in files)


def per_seed(frame, metric):
    """(temperature, seed) → {method: value}; the base is compared at the same temperature and seed."""
    part = frame[(frame.metric == metric) & (frame.subset == "all")].copy()
    part["T"] = part["split"].str.split("T=").str[1]
    return part.pivot_table(index=["T", "seed"], columns="method", values="value")


@pytest.mark.workflow
def test_reinforce_lowers_gendered_pronouns_and_raises_reward_over_base(default_run):
    frame = scores(default_run)
    gendered = per_seed(frame, "gendered_pronoun_rate")
    reward = per_seed(frame, "mean_reward")
    assert len(gendered) == len(TEMPERATURES) * len(SEEDS)
    # the testbed LM answers with a gendered pronoun ~85% of the time; 20 REINFORCE steps must cut that
    # by at least 25 points in every (temperature, seed) cell, and by 40 on average
    drop = gendered["base"] - gendered["reinforce"]
    assert (drop >= 0.25).all(), gendered
    assert drop.mean() >= 0.40, gendered
    # ... and raise the mean reward −(|bias| + 0.1·KL) on held-out prompts, KL cost included
    gain = reward["reinforce"] - reward["base"]
    assert (gain >= 0.1).all(), reward
    # the reward only penalises gendered words, so the policy may also escape them by leaving the task: at
    # T=1 the testbed policy partly drifts into off-task text. At T=0.7 it must pick the neutral option.
    neutral = per_seed(frame, "neutral_option_rate")
    assert (neutral["reinforce"] - neutral["base"]).loc["0.7"].min() >= 0.2, neutral
    kl = per_seed(frame, "kl_to_base")
    assert (kl["base"] == 0).all() and (kl["reinforce"] > 0).all()


@pytest.mark.workflow
def test_table_curves_and_lemmatizer_are_recorded(default_run):
    table = pd.read_csv(default_run / "results/testbed/tables/reward_guided.csv")
    assert set(zip(table["method"], table["size"])) == {("base", 0), ("reinforce", 64)}
    assert sorted(table["temperature"].unique()) == [0.7, 1.0]
    assert (table["n seeds"] == 2).all() and (table["identity lemmatizer (1 = yes) mean"] == 1).all()
    trained, base = table[table.method == "reinforce"], table[table.method == "base"]
    # Δ vs the base at the same temperature, paired by seed, with its intervals and tests
    assert (trained["gendered pronoun Δ"] < 0).all() and (trained["gendered pronoun Δ item ci high"] < 0).all()
    assert trained["gendered pronoun test"].isin(["paired t", "n/a: zero variance"]).all()
    assert (trained["gendered pronoun items test"] == "CMH").all()
    assert base["gendered pronoun Δ"].isna().all() and (base["gendered pronoun test"] == "baseline").all()
    assert ((table["gendered pronoun ci low"] >= 0) & (table["gendered pronoun ci high"] <= 1)).all()
    md = (default_run / "results/testbed/tables/reward_guided.md").read_text()
    assert "±" in md and "Δ mean reward" in md and "mean \\|bias\\|" in md
    curves = pd.read_csv(default_run / "results/testbed/figures/reward_guided/training_curves.csv")
    assert (
        set(curves["seed"]) == set(SEEDS) and curves.groupby(["seed", "temperature"])["step"].max().eq(MAX_STEPS).all()
    )
    assert {"loss", "mean_bias", "mean_kl", "mean_reward"} <= set(curves.columns)
    png = default_run / "results/testbed/figures/reward_guided/training_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    records = pd.read_parquet(
        default_run / "results/testbed/scores/reward_guided/testbed-lm/reinforce/seed~42/records.parquet"
    )
    assert set(records["genbit_lemmatizer"]) == {"identity"} and len(records) == 2 * 64
    summary = json.loads(
        (
            default_run / "results/testbed/train/reward_guided/testbed-lm/reinforce/seed~42/size~64/"
            "temperature~1/adapter/training_summary.json"
        ).read_text()
    )
    assert summary["lemmatizer"] == "identity" and summary["kl_direction"] == "policy_base"


@pytest.mark.workflow
def test_editing_reinforce_learning_rate_reruns_exactly_its_branch(default_run):
    def edit(config):
        config["experiments"]["reward_guided"]["methods"]["reinforce"]["train"]["learning_rate"] = 0.001

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "rg_lr.yaml")))
    run = "results/testbed/train/reward_guided/testbed-lm/reinforce"
    expected = (
        {("train", f"{run}/seed~{s}/size~64/temperature~{t}/adapter") for s in SEEDS for t in TEMPERATURES}
        | {
            (
                "score_reward_guided",
                f"results/testbed/scores/reward_guided/testbed-lm/reinforce/seed~{s}/scores.parquet",
            )
            for s in SEEDS
        }
        | {
            ("evaluate", f"results/testbed/scores/reward_guided/testbed-lm/reinforce/seed~{s}/eval_bias_suite.parquet")
            for s in SEEDS
        }  # the bias suite of every grid cell's adapter
        | {
            ("reward_guided_training_curves", "results/testbed/figures/reward_guided/training_curves.png"),
            ("table", "results/testbed/tables/reward_guided.csv"),
        }
        | SUITE_AGGREGATES
    )
    assert {j for j in jobs if j[0] != "all"} == expected


@pytest.mark.workflow
def test_diffusion_only_settings_rerun_nothing_for_a_causal_model(default_run):
    def edit(config):
        config["experiments"]["reward_guided"]["generation"]["gen_length"] = 16
        config["experiments"]["reward_guided"]["generation"]["steps"] = 16

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "rg_gen.yaml")))
    assert {j for j in jobs if j[0] != "all"} == set()


@pytest.mark.workflow
def test_rloo_moves_the_testbed_lm_to_the_neutral_option(default_run, tmp_path):
    """TRL's RLOOTrainer with the GenBit + KL reward, 10 steps of 16 samples (8 prompts × 2) at T = 0.7, then
    both the base and the adapter sample the 64 held-out prompts with the same seed (the scoring job's code):
    the gendered-pronoun rate falls, the neutral option and the mean reward rise, each by a margin (measured:
    0.88 → 0.22–0.36, 0.11–0.13 → 0.59–0.69, −0.59 → −0.17 to −0.26 over two seeds)."""
    from debiaslab.core.config import build
    from debiaslab.experiments.reward_guided.scoring import EvalSettings, evaluate
    from debiaslab.methods import registry

    pool = default_run / "results/testbed/data/reward_guided/mcq.parquet"
    lm = str(default_run / "results/testbed/testbed/lm")
    summary = registry.run(
        "rloo",
        model=lm,
        data=pool,
        seed=0,
        out=tmp_path / "adapter",
        checkpoints=tmp_path / "ckpt",
        settings={
            "learning_rate": 0.004,
            "batch_size": 16,
            "micro_batch_size": 16,
            "num_generations": 2,
            "max_steps": 10,
            "dataset_size": 64,
            "temperature": 0.7,
            "generation": {"max_new_tokens": 12},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.1, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
        },
    )
    assert summary["steps"] == 10 and summary["lemmatizer"] == "identity"
    assert len(pd.read_csv(tmp_path / "adapter/training_metrics.csv")) == 10
    settings = build(EvalSettings, {"generation": {"max_new_tokens": 12, "batch_size": 64}}, "reward_guided evaluation")
    _, values, _ = evaluate(
        lm,
        pool,
        [{"size": 0, "temperature": 0.7}, {"size": 64, "temperature": 0.7, "adapter": str(tmp_path / "adapter")}],
        settings,
        0,
    )
    got = {(v["split"].split(",")[0], v["metric"]): v["value"] for v in values}
    base, rloo = (lambda metric: got[("n=0", metric)]), (lambda metric: got[("n=64", metric)])
    assert base("gendered_pronoun_rate") - rloo("gendered_pronoun_rate") >= 0.3, got
    assert rloo("neutral_option_rate") - base("neutral_option_rate") >= 0.3, got
    assert rloo("mean_reward") - base("mean_reward") >= 0.15, got  # KL cost included
    assert rloo("kl_to_base") > 0 and base("kl_to_base") == 0
    with pytest.raises(ConfigError, match="masked-diffusion"):
        registry.run(
            "rloo",
            model=json.dumps({"path": str(default_run / "results/testbed/testbed/mlm"), "diffusion": True}),
            data=pool,
            seed=0,
            out=tmp_path / "x",
            checkpoints=tmp_path / "c",
            settings={},
        )


@pytest.mark.workflow
def test_reinforce_at_temperature_zero_pushes_down_the_penalised_greedy_answers(default_run, tmp_path):
    """At T = 0 the policy samples by argmax: the rollouts are the greedy answers whatever the seed, so
    −R·∇log p is no score-function estimate but a deterministic-policy update; with the paper's baseline
    (none) one step lowers the log-probability of every greedy answer with R < 0 (in proportion to |R|)."""
    import torch

    from debiaslab import models
    from debiaslab.core.io import read_table
    from debiaslab.data.mcq import train_subset
    from debiaslab.methods import registry
    from debiaslab.methods.policy import CausalPolicy
    from debiaslab.methods.reward import Reward, RewardSettings

    pool = default_run / "results/testbed/data/reward_guided/mcq.parquet"
    lm = str(default_run / "results/testbed/testbed/lm")
    prompts = list(train_subset(read_table(pool), 16)["prompt"])  # the one training batch: every prompt
    tokenizer = models.load_tokenizer(lm, padding_side="left")
    greedy = CausalPolicy(models.load_model(lm).eval(), tokenizer, 12)
    rollout = greedy.rollout(prompts, 0.0, seed=1, with_kl=False)[0]
    assert greedy.rollout(prompts, 0.0, seed=2, with_kl=False)[0].texts == rollout.texts
    penalty = -torch.tensor(Reward(RewardSettings())(rollout.texts, [0.0] * len(prompts))["reward"])  # KL 0 at step 1
    penalised = penalty > 0
    assert penalised.sum() >= 12, rollout.texts  # the greedy answers follow the planted stereotype: gendered

    summary = registry.run(
        "reinforce",
        model=lm,
        data=pool,
        seed=0,
        out=tmp_path / "adapter",
        checkpoints=tmp_path / "ckpt",
        settings={
            "learning_rate": 0.002,
            "batch_size": 16,
            "micro_batch_size": 8,
            "max_steps": 1,
            "baseline": "none",
            "dataset_size": 16,
            "temperature": 0.0,
            "generation": {"max_new_tokens": 12},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
        },
    )
    assert summary["estimator"] == "deterministic_policy"
    trained = CausalPolicy(models.attach_adapter(models.load_model(lm), tmp_path / "adapter").eval(), tokenizer, 12)
    with torch.no_grad():
        before, after = (next(p.logprob_chunks(rollout)) for p in (greedy, trained))
    assert (after < before)[penalised].all(), (after - before).tolist()


def test_full_scale_config_skips_rloo_where_it_cannot_run():
    jobs = planned_jobs(REPO, "all", "--configfile", "config/experiments/reward_guided.yaml")
    trains = {out for rule, out in jobs if rule == "train"}
    assert any("/llada-8b-instruct/reinforce/" in o and "temperature~0/" in o for o in trains)
    assert not any("/llada-8b-instruct/rloo/" in o for o in trains), "RLOOTrainer cannot sample a diffusion model"
    assert not any("/rloo/" in o and "temperature~0/" in o for o in trains), "rloo needs temperature > 0"
    assert len(trains) == 2 * 3 * 4 * 3 + 3 * 4 * 2


@pytest.fixture(scope="module")
def full_config():
    return load_yaml(REPO / "config/experiments/reward_guided.yaml")


def invalid(config, edit):
    config = copy.deepcopy(config)
    edit(config["experiments"]["reward_guided"])
    with pytest.raises(ConfigError) as error:
        validate(config, REPO / "workflow/schemas/config.schema.yaml")  # as the workflow
    return str(error.value)


def test_config_rules_name_the_key(full_config):
    validate(copy.deepcopy(full_config), REPO / "workflow/schemas/config.schema.yaml")
    message = invalid(full_config, lambda e: e["methods"]["reinforce"]["train"].update(micro_batch_size=7))
    assert "experiments.reward_guided.methods.reinforce.train.batch_size: 64 is not a multiple" in message
    message = invalid(full_config, lambda e: e["generation"].update(block_length=48))
    assert "experiments.reward_guided.generation.gen_length" in message
    message = invalid(full_config, lambda e: e.update(dataset_sizes=[6000]))
    assert "experiments.reward_guided.dataset_sizes" in message
    message = invalid(full_config, lambda e: e["reward"].update(kl_direction="lora_base"))
    assert "experiments.reward_guided.reward.kl_direction" in message and "policy_base" in message
    message = invalid(full_config, lambda e: e.update(temperatures=[0]))
    assert "methods.rloo: no cell to run" in message
