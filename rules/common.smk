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


def adapter_input(wildcards):
    if wildcards.method in ADAPTER_METHODS:
        return {
            "adapter": f"results/train/{wildcards.experiment}/{wildcards.model}/{wildcards.method}/seed~{wildcards.seed}/adapter"
        }
    return {}


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


def table_targets():
    return [f"results/tables/{name}.{ext}" for name in EXPERIMENTS for ext in ("csv", "md")]


def all_targets():
    return testbed_targets() + table_targets()


def local_input(path):
    """A data file the workflow builds itself (the testbed's), so a job must wait for it; Hub names need nothing."""
    return [path] if path.startswith("results/testbed/") else []


def safety_source_files(ext):
    """The source-format per-bias-type files of one safety scoring job (wildcards left for the rule)."""
    if "safety" not in EXPERIMENTS:
        return []
    return [
        f"results/scores/safety/{{model}}/{{method}}/seed~{{seed}}/{{method}}_model_{bias}_responses_scores.{ext}"
        for bias in experiment("safety")["bias_types"]
    ]


def safety_scoring():
    """The safety scoring slice with each scorer's model name resolved to its config entry."""
    exp = experiment("safety")
    resolved = {
        role: settings | {"model": config["models"][settings["model"]]} for role, settings in exp["scoring"].items()
    }
    return {"bias_types": exp["bias_types"]} | resolved


def safety_scorer_inputs(wildcards):
    return [path for role in ("bias_classifier", "reward_model") for path in model_input(experiment("safety")["scoring"][role]["model"])]
