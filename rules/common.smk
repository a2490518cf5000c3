# Config validation, config slices and target helpers. No stage logic lives here:
# every rule calls one `debiaslab` subcommand with its slice of the config.

import json
from pathlib import Path

from debiaslab.config import ConfigError, as_json, validate
from debiaslab.provenance import source_fingerprint

try:
    # the schema directory as a whole: experiment schemas are separate files the main one $refs
    validate(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

EXPERIMENTS = config["experiments"]
# Methods that train a PEFT adapter (generation applies it to the base model).
ADAPTER_METHODS = {"sft", "dpo"}
# Methods fitted as an LM-head projection (INLP), applied as a hook during generation.
PROJECTION_METHODS = {"inlp"}
# Methods that act at decoding time; their config slice goes to the generate job.
DECODING_METHODS = {"gen_filter", "constrained"}
# Each experiment's baseline: statistics compare every method against it.
BASELINE_METHOD = {"occupations": "prompt_only"}
# Keys of an experiment's `generation` section that the generate job uses (the rest size the prompt sets).
GENERATION_KEYS = ("max_new_tokens", "temperature", "top_p", "batch_size", "chat", "system_prompt", "strip_thinking")


wildcard_constraints:
    experiment="[a-z_]+",
    model="[A-Za-z0-9][A-Za-z0-9._-]*",
    method="[a-z_]+",
    seed=r"\d+",


def code(*modules):
    """Fingerprint of the debiaslab source a rule runs (Snakemake cannot see package edits)."""
    return source_fingerprint(*modules)


def experiment(name):
    return EXPERIMENTS[name]


def model_spec(name):
    """The model's config entry as canonical JSON (what `--model` takes)."""
    return as_json(config["models"][name])


def model_input(name):
    """Files a job needs before it can load model `name`: the testbed model folder if it is built here."""
    path = config["models"][name]["path"]
    return [path] if path.startswith("results/testbed/") else []


def occupations_split():
    """The occupation split and prompt: shared by the occupations data and prompt jobs."""
    exp = experiment("occupations")
    return {k: exp[k] for k in ("train_occupations", "heldout_occupations", "prompt")}


def method_artifact(wildcards):
    """The trained artifact generation applies for this method: {"adapter": dir}, {"projection": dir} or {}."""
    base = f"results/train/{wildcards.experiment}/{wildcards.model}/{wildcards.method}/seed~{wildcards.seed}"
    if wildcards.method in ADAPTER_METHODS:
        return {"adapter": f"{base}/adapter"}
    if wildcards.method in PROJECTION_METHODS:
        return {"projection": f"{base}/projection"}
    return {}


def artifact_flags(wildcards, input):
    return " ".join(f"--{kind} {input[kind]}" for kind in ("adapter", "projection") if kind in input.keys())


def decoding_settings(wildcards):
    """A decoding-time method's own config slice (empty for every other method)."""
    if wildcards.method in DECODING_METHODS:
        return experiment(wildcards.experiment)["methods"][wildcards.method]
    return {}


def baseline_records(name, wildcards):
    """The baseline's per-response records of the same seed (none for the baseline itself)."""
    base = BASELINE_METHOD.get(name)
    if base is None or wildcards.method == base or base not in experiment(name)["methods"]:
        return {}
    return {"baseline": f"results/scores/{name}/{wildcards.model}/{base}/seed~{wildcards.seed}/records.parquet"}


def run_paths(stage, name, filename):
    """results/<stage>/<experiment>/<model>/<method>/seed~<seed>/<filename> for every run of an experiment."""
    exp = experiment(name)
    return [
        f"results/{stage}/{name}/{model}/{method}/seed~{seed}/{filename}"
        for model in exp["models"]
        for method in exp["methods"]
        for seed in exp["seeds"]
    ]


def testbed_targets():
    if "testbed" not in config:
        return []
    return ["results/testbed/lm", "results/testbed/mlm"]


def table_inputs(name):
    """Score-store files an experiment's table is computed from (one per run by default)."""
    return run_paths("scores", name, "scores.parquet")


def table_settings(name):
    """A table's config slice plus the method order (the order methods are listed in config)."""
    return experiment(name)["table"] | {"method_order": list(experiment(name)["methods"])}


# figure name → the experiment whose score store it plots
FIGURES = {"occupations_per_occupation": "occupations"}


def table_targets():
    return [f"results/tables/{name}.{ext}" for name in EXPERIMENTS for ext in ("csv", "md", "tex")]


def figure_targets():
    return [f"results/figures/{name}.{ext}" for name, exp in FIGURES.items() if exp in EXPERIMENTS for ext in ("png", "pdf")]


def train_targets(name):
    """Trained artifacts (adapters, projections) of every trained method of an experiment."""
    exp = experiment(name)
    out = []
    for model in exp["models"]:
        for method in exp["methods"]:
            kind = "adapter" if method in ADAPTER_METHODS else "projection" if method in PROJECTION_METHODS else None
            if kind:
                out += [f"results/train/{name}/{model}/{method}/seed~{seed}/{kind}" for seed in exp["seeds"]]
    return out


def experiment_targets(name):
    """Everything an experiment's results need: its tables and figures."""
    return [f"results/tables/{name}.{ext}" for ext in ("csv", "md", "tex")] + [
        f"results/figures/{fig}.{ext}" for fig, exp in FIGURES.items() if exp == name for ext in ("png", "pdf")
    ]


def all_targets():
    return testbed_targets() + table_targets() + figure_targets()
