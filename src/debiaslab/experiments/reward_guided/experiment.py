"""`reward_guided` in the experiment interface (experiments/base.py): runs of a grid of dataset size ×
temperature, one adapter per trained cell."""

from __future__ import annotations

from debiaslab.experiments.base import Cell, DataArtifact, Experiment, Figure, Run, Scoring, Setup, Training

HERE = "debiaslab.experiments.reward_guided"

# Keys of the `generation` block each backend uses (the rest would only cause needless reruns).
CAUSAL_KEYS = ("max_new_tokens", "chat", "system_prompt")
DIFFUSION_KEYS = (
    "gen_length",
    "steps",
    "block_length",
    "cfg_scale",
    "remasking",
    "mask_token_id",
    "chat",
    "system_prompt",
)


def is_diffusion(setup: Setup, model: str) -> bool:
    return bool(setup.config["models"][model].get("diffusion", False))


def runs(setup: Setup) -> list[Run]:
    """Every model × method × seed; rloo (TRL samples with generate()) only on causal models."""
    exp = setup.exp
    return [
        Run(model, method, seed)
        for model in exp["models"]
        for method in exp["methods"]
        for seed in exp["seeds"]
        if not (method == "rloo" and is_diffusion(setup, model))
    ]


def cells(setup: Setup, run: Run) -> list[Cell]:
    """(dataset size, temperature) cells of a run: the base model is size 0 (untrained); rloo needs T > 0."""
    from debiaslab.core.store import cell_label

    exp = setup.exp
    if run.method == "base":
        grid = [(0, t) for t in exp["temperatures"]]
    else:
        grid = [
            (n, t) for n in exp["dataset_sizes"] for t in exp["temperatures"] if not (run.method == "rloo" and t <= 0)
        ]
    return [Cell({"size": n, "temperature": t}, cell_label(n, t), trained=run.method != "base") for n, t in grid]


def generation(setup: Setup, model: str, training: bool) -> dict:
    """The generation keys the model's backend uses; the evaluation batch size does not enter training."""
    gen = setup.exp["generation"]
    keys = DIFFUSION_KEYS if is_diffusion(setup, model) else CAUSAL_KEYS
    return {k: gen[k] for k in keys + (() if training else ("batch_size",))}


def training_settings(setup: Setup, run: Run, cell: Cell) -> dict:
    exp = setup.exp
    return exp["methods"][run.method]["train"] | {
        "dataset_size": int(cell.values["size"]),
        "temperature": float(cell.values["temperature"]),
        "reward": exp["reward"],
        "generation": generation(setup, run.model, training=True),
    }


def score_inputs(setup: Setup, run: Run) -> dict:
    adapters = [setup.trained(run, cell) for cell in cells(setup, run) if cell.trained]
    return {"pool": setup.data("mcq.parquet")} | ({"adapters": adapters} if adapters else {})


def score_cells(setup: Setup, run: Run) -> dict:
    """The grid cells one scoring job covers, with each cell's adapter (none for the base)."""
    return {
        "cells": [
            {
                "size": cell.values["size"],
                "temperature": float(cell.values["temperature"]),
                "adapter": setup.trained(run, cell) if cell.trained else None,
            }
            for cell in cells(setup, run)
        ]
    }


def score_settings(setup: Setup, run: Run) -> dict:
    exp = setup.exp
    return {
        "n_prompts": exp["evaluation"]["n_prompts"],
        "reward": exp["reward"],
        "generation": generation(setup, run.model, training=False),
    }


def check(config: dict) -> list[str]:
    """Batch and diffusion-schedule rules (docs/experiments/reward_guided.md#method), the pool size, and the
    evaluations a grid of adapters can have."""
    from debiaslab.evals.registry import MODEL_EVALUATIONS
    from debiaslab.experiments.reward_guided.data import pool_problems

    exp = config.get("experiments", {}).get("reward_guided")
    if not exp:
        return []
    models = config.get("models", {})
    where = "experiments.reward_guided"
    problems: list[str] = []
    methods = exp.get("methods", {})
    for method in ("reinforce", "rloo"):
        train = (methods.get(method) or {}).get("train")
        if train and train["batch_size"] % train["micro_batch_size"]:
            problems.append(
                f"{where}.methods.{method}.train.batch_size: {train['batch_size']} is not a multiple of "
                f"micro_batch_size {train['micro_batch_size']}"
            )
    rloo = (methods.get("rloo") or {}).get("train")
    if rloo and rloo["batch_size"] % rloo["num_generations"]:
        problems.append(
            f"{where}.methods.rloo.train.batch_size: {rloo['batch_size']} is not a multiple of "
            f"num_generations {rloo['num_generations']}"
        )
    if "rloo" in methods:
        causal = [m for m in exp.get("models", []) if m in models and not models[m].get("diffusion")]
        if not causal or not any(t > 0 for t in exp["temperatures"]):
            problems.append(
                f"{where}.methods.rloo: no cell to run; RLOOTrainer needs a causal (non-diffusion) model "
                "and a temperature > 0"
            )
    gen = exp["generation"]
    if any(models.get(m, {}).get("diffusion") for m in exp.get("models", [])):
        if gen["gen_length"] % gen["block_length"]:
            problems.append(
                f"{where}.generation.gen_length: {gen['gen_length']} is not a multiple of "
                f"block_length {gen['block_length']}"
            )
        elif gen["steps"] % (gen["gen_length"] // gen["block_length"]):
            problems.append(
                f"{where}.generation.steps: {gen['steps']} is not a multiple of the number of blocks "
                f"({gen['gen_length'] // gen['block_length']} = gen_length / block_length)"
            )
    # its runs hold one adapter per grid cell and no responses file: only model evaluations, run once per cell
    for evaluation in exp.get("evaluations", {}):
        if evaluation not in MODEL_EVALUATIONS:
            problems.append(
                f"{where}.evaluations.{evaluation}: not available for reward_guided "
                f"(its runs are evaluated per grid cell); use one of {', '.join(MODEL_EVALUATIONS)}"
            )
    return problems + pool_problems(config)


EXPERIMENT = Experiment(
    name="reward_guided",
    baseline={"method": "base", "size": 0},
    runs=runs,
    cells=cells,
    data=(
        DataArtifact(
            "pool", {"out": "mcq.parquet"}, f"{HERE}.data:write_pool", settings=lambda setup, w: setup.exp["data"]
        ),
    ),
    training=Training(data=lambda setup, run: "mcq.parquet", settings=training_settings),
    scoring=Scoring(
        entry=f"{HERE}.scoring:score",
        settings=score_settings,
        inputs=score_inputs,
        arguments=score_cells,
        model=True,
    ),
    table=f"{HERE}.table:table",
    figures={"training_curves": Figure(f"{HERE}.figures:write_curves", f"{HERE}.figures:caption", source="trained")},
    check=check,
    testbed_sections={"mcq": f"{HERE}.testbed:mcq_section"},
)
