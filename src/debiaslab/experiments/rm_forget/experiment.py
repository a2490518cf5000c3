"""`rm_forget` in the experiment interface (experiments/base.py): a reward model minus λ × a forget-LoRA
fitted to the reversed preference of one pair mode (method forget_<mode>), swept over λ."""

from __future__ import annotations

from debiaslab.experiments.base import DataArtifact, Experiment, Figure, Run, Scoring, Setup, Training

HERE = "debiaslab.experiments.rm_forget"


def training_settings(setup: Setup, run: Run, cell=None) -> dict:
    """One forget-LoRA's training slice, plus its pair mode (from the method name) and base adapter."""
    exp = setup.exp
    return exp["methods"][run.method]["train"] | {
        "pair_mode": run.method.removeprefix("forget_"),
        "base_adapter": exp["base_adapters"].get(run.model),
    }


def check(config: dict) -> list[str]:
    from debiaslab.core.paths import results_root

    exp = config.get("experiments", {}).get("rm_forget")
    if not exp:
        return []
    problems = []
    where = "experiments.rm_forget"
    models = config.get("models", {})
    for i, name in enumerate(exp["models"]):
        kind = models.get(name, {}).get("kind", "auto")
        if kind in ("causal", "mlm"):
            problems.append(
                f"{where}.models[{i}]: model {name!r} has kind {kind!r}; a reward model is a "
                "sequence-classification model (kind seq-cls or auto)"
            )
    extra = sorted(set(exp["base_adapters"]) - set(exp["models"]))
    if extra:
        problems.append(f"{where}.base_adapters: {extra} not in {where}.models")
    dataset = exp["data"]["dataset"]
    if dataset["train_split"] == dataset["eval_split"]:
        problems.append(
            f"{where}.data.dataset.eval_split: {dataset['eval_split']!r} is also the train split; "
            "evaluation is on held-out questions"
        )
    # the testbed GSM8K set's split sizes when the dataset is it (a Hub set's size is known only once loaded)
    testbed = dataset["path"].rstrip("/") == f"{results_root(config)}/testbed/arithmetic" and "testbed" in config
    pool = config["testbed"].get("arithmetic") if testbed else None
    for key, split in (("n_train_questions", "n_train"), ("n_eval_questions", "n_test")):
        wanted = exp["data"][key]
        if pool and wanted is not None and wanted > pool[split]:
            problems.append(
                f"{where}.data.{key}: {wanted} exceeds the {pool[split]} questions of the testbed's "
                f"{'train' if split == 'n_train' else 'test'} split (testbed.arithmetic.{split})"
            )
    if 0 not in exp["sweep"]["lambdas"]:
        problems.append(f"{where}.sweep.lambdas: must include 0 (the base reward model every λ is compared with)")
    for method, spec in exp["methods"].items():
        saved = spec["train"]["lora"]["modules_to_save"]
        if saved:
            problems.append(
                f"{where}.methods.{method}.train.lora.modules_to_save: must be empty; a saved module "
                f"(e.g. the score head) is neither scaled nor subtracted by λ, got {saved}"
            )
    return problems


EXPERIMENT = Experiment(
    name="rm_forget",
    baseline={"lambda": 0.0},
    data=(
        DataArtifact(
            "styles",
            {"pairs_out": "train_pairs.parquet", "items_out": "rmbench_items.parquet"},
            f"{HERE}.data:write_style_data",
            settings=lambda setup, w: setup.exp["data"],
            datasets=lambda setup: [setup.exp["data"]["dataset"]["path"]],
        ),
    ),
    training=Training(data=lambda setup, run: "train_pairs.parquet", settings=training_settings),
    scoring=Scoring(
        entry=f"{HERE}.scoring:score",
        settings=lambda setup, run: setup.exp["sweep"] | {"base_adapter": setup.exp["base_adapters"].get(run.model)},
        inputs=lambda setup, run: {"adapter": setup.trained(run), "rmbench": setup.data("rmbench_items.parquet")},
        model=True,
    ),
    table=f"{HERE}.table:table",
    figures={"rm_forget_lambda_curve": Figure(f"{HERE}.table:lambda_curve", f"{HERE}.table:lambda_curve_caption")},
    check=check,
    testbed_sections={"arithmetic": "debiaslab.testbed.arithmetic:corpus_section"},
)
