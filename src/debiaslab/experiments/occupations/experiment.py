"""`occupations` in the experiment interface (experiments/base.py)."""

from __future__ import annotations

from debiaslab.experiments.base import DataArtifact, Experiment, Figure, Run, Scoring, Setup, Training
from debiaslab.experiments.occupations.data import TRAINING_DATA

HERE = "debiaslab.experiments.occupations"


def split(setup: Setup) -> dict:
    """The occupation split and prompt: shared by the data and prompt jobs."""
    return {k: setup.exp[k] for k in ("train_occupations", "heldout_occupations", "prompt")}


def training_settings(setup: Setup, run: Run, cell=None) -> dict:
    methods = setup.exp["methods"][run.method]
    return methods["fit"] if "fit" in methods else methods["train"]  # INLP is fitted, the others trained


def check(config: dict) -> list[str]:
    from debiaslab.core.config import placeholder_problems

    exp = config.get("experiments", {}).get("occupations")
    if not exp:
        return []
    problems = placeholder_problems("experiments.occupations.prompt", exp["prompt"], {"occupation"})
    overlap = sorted(set(exp["train_occupations"]) & set(exp["heldout_occupations"]))
    if overlap:
        problems.append(
            f"experiments.occupations.heldout_occupations: {overlap} also in train_occupations; "
            "held-out occupations must not be trained on"
        )
    return problems


EXPERIMENT = Experiment(
    name="occupations",
    baseline={"method": "prompt_only"},
    data=(
        DataArtifact(
            "training",
            {"out": "{method}/seed~{seed}/train.parquet"},
            f"{HERE}.data:write_training_data",
            settings=lambda setup, w: split(setup) | setup.exp["methods"][w.method].get("data", {}),
            methods=tuple(TRAINING_DATA),
            local=True,
        ),
        DataArtifact(
            "prompts",
            {"out": "prompts.parquet"},
            f"{HERE}.data:write_prompts",
            settings=lambda setup, w: (
                split(setup) | {"samples_per_occupation": setup.exp["generation"]["samples_per_occupation"]}
            ),
            local=True,
        ),
    ),
    training=Training(
        data=lambda setup, run: f"{run.method}/seed~{run.seed}/train.parquet",
        settings=training_settings,
    ),
    prompts="prompts.parquet",
    decoding={"gen_filter": f"{HERE}.data:accepts", "constrained": f"{HERE}.data:TERM_CLASSES"},
    scoring=Scoring(
        entry=f"{HERE}.scoring:score",
        settings=lambda setup, run: setup.exp["scoring"],
        inputs=lambda setup, run: {"responses": setup.generated(run)},
    ),
    table=f"{HERE}.table:table",
    figures={
        "occupations_per_occupation": Figure(f"{HERE}.table:per_occupation", f"{HERE}.table:per_occupation_caption")
    },
    check=check,
    testbed_sections={"occupations": f"{HERE}.testbed:occupation_section"},
)
