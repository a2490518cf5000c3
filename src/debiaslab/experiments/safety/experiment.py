"""`safety` in the experiment interface (experiments/base.py): SFT and DPO on hh-rlhf, generations on bias
prompts scored by a bias-type classifier and a reward model."""

from __future__ import annotations

from debiaslab.experiments.base import DataArtifact, Experiment, Scoring, Setup, Training

HERE = "debiaslab.experiments.safety"
SCORERS = ("bias_classifier", "reward_model")


def scoring_settings(setup: Setup, run=None) -> dict:
    """The scoring slice with each scorer's model name resolved to its config entry."""
    from debiaslab.core.config import model_entry

    exp = setup.exp
    resolved = {
        role: settings | {"model": model_entry(setup.config, settings["model"])}
        for role, settings in exp["scoring"].items()
    }
    return {"bias_types": exp["bias_types"]} | resolved


def source_files(setup: Setup) -> list[str]:
    """The source-format per-bias-type files a scoring job writes beside scores.parquet ({method}: the run's)."""
    from debiaslab.experiments.safety.scoring import source_file_name

    stems = [source_file_name("{method}", bias).removesuffix(".json") for bias in setup.exp["bias_types"]]
    return [f"{stem}.{ext}" for ext in ("json", "parquet") for stem in stems]


def check(config: dict) -> list[str]:
    from debiaslab.core.config import model_problems

    exp = config.get("experiments", {}).get("safety")
    if not exp:
        return []
    problems = []
    for role in SCORERS:
        problems += model_problems(config, f"experiments.safety.scoring.{role}.model", exp["scoring"][role]["model"])
    unlabelled = [b for b in exp["bias_types"] if b not in exp["scoring"]["bias_classifier"]["labels"]]
    if unlabelled:
        problems.append(
            f"experiments.safety.scoring.bias_classifier.labels: no classifier label for bias type(s) "
            f"{unlabelled}; give one per entry of experiments.safety.bias_types"
        )
    return problems


EXPERIMENT = Experiment(
    name="safety",
    baseline={"method": "base"},
    data=(
        DataArtifact(
            "training",
            {"sft_out": "sft/seed~{seed}/train.parquet", "dpo_out": "dpo/seed~{seed}/train.parquet"},
            f"{HERE}.hh_rlhf:write_data",
            settings=lambda setup, w: setup.exp["data"],
            datasets=lambda setup: [setup.exp["data"]["dataset"]],
        ),
        DataArtifact(
            "prompts",
            {"out": "prompts.parquet"},
            f"{HERE}.bias_prompts:write_prompts",
            settings=lambda setup, w: setup.exp["prompts"] | {"bias_types": setup.exp["bias_types"]},
            datasets=lambda setup: [setup.exp["prompts"]["dataset"]],
        ),
    ),
    training=Training(
        data=lambda setup, run: f"{run.method}/seed~{run.seed}/train.parquet",
        settings=lambda setup, run, cell: setup.exp["methods"][run.method]["train"],
    ),
    prompts="prompts.parquet",
    scoring=Scoring(
        entry=f"{HERE}.scoring:score",
        settings=scoring_settings,
        inputs=lambda setup, run: {"responses": setup.generated(run)},
        models=lambda setup: [setup.exp["scoring"][role]["model"] for role in SCORERS],
        outputs=source_files,
    ),
    table=f"{HERE}.table:table",
    check=check,
    testbed_sections={"safety": "debiaslab.testbed.safety:corpus_section"},
)
