"""`desired_distribution` in the experiment interface (experiments/base.py): KL-to-a-desired-distribution
fine-tuning of masked (and causal) LMs, scored by KL per occupation split."""

from __future__ import annotations

from debiaslab.experiments.base import DataArtifact, Experiment, Run, Scoring, Setup, Training

HERE = "debiaslab.experiments.desired_distribution"


def runs(setup: Setup) -> list[Run]:
    """`base` once per model (at the first seed, as the source scored the unmitigated model unseeded), each
    method on its `models` subset."""
    exp = setup.exp
    out = []
    for model in exp["models"]:
        for method, settings in exp["methods"].items():
            if model in (settings.get("models") or exp["models"]):
                out += [Run(model, method, seed) for seed in (exp["seeds"][:1] if method == "base" else exp["seeds"])]
    return out


def score_inputs(setup: Setup, run: Run) -> dict:
    """The sentence table and the run's trained folder (unless it is the base model)."""
    trained = {} if run.method == "base" else {"trained": setup.trained(run)}
    return {"sentences": setup.data("sentences.parquet")} | trained


def check(config: dict) -> list[str]:
    exp = config.get("experiments", {}).get("desired_distribution")
    if not exp:
        return []
    problems = []
    for method, settings in exp["methods"].items():
        extra = sorted(set(settings.get("models") or []) - set(exp["models"]))
        if extra:
            problems.append(
                f"experiments.desired_distribution.methods.{method}.models: {extra} not in the "
                f"experiment's models {exp['models']}"
            )
    missing = sorted(set(exp["table"]["splits"]) - set(exp["evaluation"]["splits"]))
    if missing:
        problems.append(
            f"experiments.desired_distribution.table.splits: {missing} not scored; "
            f"add them to evaluation.splits {exp['evaluation']['splits']}"
        )
    return problems


EXPERIMENT = Experiment(
    name="desired_distribution",
    baseline={"method": "base"},
    runs=runs,
    data=(
        DataArtifact(
            "sentences",
            {"out": "sentences.parquet"},
            f"{HERE}.data:write_sentences",
            settings=lambda setup, w: setup.exp["data"],
            local=True,
        ),
    ),
    training=Training(
        data=lambda setup, run: "sentences.parquet",
        settings=lambda setup, run, cell: setup.exp["methods"][run.method]["train"],
    ),
    scoring=Scoring(
        entry=f"{HERE}.scoring:score",
        settings=lambda setup, run: setup.exp["evaluation"],
        inputs=score_inputs,
        model=True,
    ),
    table=f"{HERE}.table:table",
    check=check,
    testbed_sections={"desired_distribution": "debiaslab.testbed.desired_distribution:desired_distribution_section"},
)
