# Config validation, config slices and target helpers. No stage logic lives here:
# every rule calls one `debiaslab` subcommand with its slice of the config.

import json
import os
import re
import shlex
from pathlib import Path

from debiaslab.aggregate import bundle
from debiaslab.aggregate.captions import report_caption
from debiaslab.core.config import ConfigError, as_json, load_yaml, validate
from debiaslab.generation.responses import DECODERS, PROJECTION_MODULE
from debiaslab.core.io import locate_file as locate_gguf
from debiaslab.data.mcq import pool_problems
from debiaslab.hub.download import is_hub_id, missing_local_paths
from debiaslab.hub.download import references as hub_references
from debiaslab.methods.train import trainer_module
from debiaslab.core.store import cell_label
from debiaslab.core.provenance import source_fingerprint

try:
    # Snakemake's YAML loader keeps the last of two equal keys: each config file is read again, strictly
    for _path in workflow.configfiles:
        load_yaml(_path)
    # the schema directory as a whole: experiment schemas are separate files the main one $refs
    validate(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml", checks=(pool_problems,))
    # a bundle's config names the run's local folders, which a reviewer's clone need not have
    _problems = [] if UNPACKED else missing_local_paths(config)
    if _problems:
        raise ConfigError("\n  ".join(["invalid config:", *_problems]))
except ConfigError as error:
    raise WorkflowError(str(error)) from None

EXPERIMENTS = config["experiments"]
# Methods that train a PEFT adapter (generation applies it to the base model).
ADAPTER_METHODS = {"sft", "dpo"}
# Methods fitted as an LM-head projection (INLP), applied as a hook during generation.
PROJECTION_METHODS = {"inlp"}
# Methods that save a complete trained model folder (masked LMs fully fine-tuned) or an adapter folder
# under the name `model` (desired_distribution); evaluations load whichever it is (models.apply_trained).
TRAINED_MODEL_METHODS = {"kl_equal", "kl_real_world"}
# Methods that act at decoding time (generation/responses.py DECODERS); their config slice goes to the generate job.
DECODING_METHODS = set(DECODERS)
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


# Scheduling order only (no result depends on it): a job's priority is how early its stage sits in the
# chain testbed → data → train → generate → score/evaluate → tables, so that when cores free up the
# jobs heading long chains start first and short scoring/table jobs fill the cores at the end, instead
# of a training job (and its generate → score → table chain) starting last on one core.
PRIORITY = {"testbed": 5, "data": 4, "train": 3, "generate": 2, "score": 1, "evaluate": 1, "aggregate": 0}


def trainer_code(method):
    """Fingerprint of a training job's code: the dispatcher and that method's trainer only."""
    return code("debiaslab.methods.train", trainer_module(method))


def generation_code(method):
    """Fingerprint of a generation job's code: the stage entry plus the decoder or projection its method uses."""
    extra = [DECODERS[method]] if method in DECODERS else []
    extra += [PROJECTION_MODULE] if method in PROJECTION_METHODS else []
    return code("debiaslab.generation.responses", *extra)


def experiment(name):
    return EXPERIMENTS[name]


# Keys of a model entry that size or authorise its jobs but never change a result: kept out of
# params, so correcting a size estimate reruns nothing.
SCHEDULING_KEYS = ("size_b", "gated")


def imported_model_paths(name):
    """Where a GGUF model entry is converted to: its Hub-format folder and the provenance JSON beside it.
    The one place these paths are built (the rule's output patterns pass name="{model}")."""
    root = f"results/models/{name}"
    return {"model": f"{root}/model", "provenance": f"{root}/provenance.json"}


def is_gguf_model(name):
    return "gguf" in config["models"][name]


def model_entry(name):
    """The model's config entry without the keys that only schedule jobs (size, gating); a GGUF entry's
    `path` is its converted folder, so every stage loads it as any other Hub-format folder."""
    entry = {k: v for k, v in config["models"][name].items() if k not in SCHEDULING_KEYS}
    if "gguf" in entry:
        entry = {k: v for k, v in entry.items() if k != "gguf"} | {"path": imported_model_paths(name)["model"]}
    return entry


def model_spec(name):
    """The model's config entry as canonical JSON (what `--model` takes)."""
    return as_json(model_entry(name))


def model_input(name):
    """Files a job needs before it can load model `name`: the testbed model folder if it is built
    here, the converted folder of a GGUF file, the Hub cache's manifest if it is a Hub model (compute
    jobs are offline)."""
    if is_gguf_model(name):
        return [imported_model_paths(name)["model"]]
    path = config["models"][name]["path"]
    if path.startswith("results/testbed/"):
        return [path]
    return [HUB_MANIFEST] if is_hub_id(path) else []


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
    if wildcards.method in TRAINED_MODEL_METHODS:
        return {"trained": f"{base}/model"}
    return {}


def artifact_flags(wildcards, input):
    return " ".join(f"--{kind} {input[kind]}" for kind in ("adapter", "projection", "trained") if kind in input.keys())


def decoding_settings(wildcards):
    """A decoding-time method's own config slice (empty for every other method)."""
    if wildcards.method in DECODING_METHODS:
        return experiment(wildcards.experiment)["methods"][wildcards.method]
    return {}


def experiment_runs(name):
    """(model, method, seed) of every run of an experiment, in run_paths' order (desired_distribution and
    reward_guided: their own)."""
    if name == "desired_distribution":
        return desired_distribution_runs()
    if name == "reward_guided":
        return reward_guided_runs()
    exp = experiment(name)
    return [(model, method, seed) for model in exp["models"] for method in exp["methods"] for seed in exp["seeds"]]


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
    return ["results/testbed/lm", "results/testbed/mlm", "results/testbed/mmlu", "results/testbed/glue"]


# The cross-experiment table and figure of the bias suite (aggregate/bias_suite.py): every run's
# eval_bias_suite.parquet, each experiment a section compared with its own baseline.
SUITE = "bias_suite"


def suite_experiments():
    return [name for name in EXPERIMENTS if SUITE in evaluations(name)]


def table_names():
    """Every table the config defines: one per experiment, and the bias suite's if any experiment runs it."""
    return list(EXPERIMENTS) + ([SUITE] if suite_experiments() else [])


def table_inputs(name):
    """Score-store files a table is computed from (an experiment's: one per run by default)."""
    if name == SUITE:
        return [
            path
            for exp in suite_experiments()
            for path in evaluation_targets(exp)
            if Path(path).name == f"eval_{SUITE}.parquet"
        ]
    if name == "reward_guided":
        return [
            f"results/scores/reward_guided/{m}/{meth}/seed~{s}/scores.parquet" for m, meth, s in reward_guided_runs()
        ]
    if name == "desired_distribution":
        runs = desired_distribution_runs()
        return [
            f"results/scores/{name}/{m}/{meth}/seed~{s}/scores.parquet" for m, meth, s in runs
        ] + evaluation_targets(name, in_table=True)
    return run_paths("scores", name, "scores.parquet") + evaluation_targets(name, in_table=True)


# A score file's run, from its path: what the table checks the file holds (aggregate/completeness.py).
SCORE_PATH = re.compile(r"scores/([^/]+)/([^/]+)/([^/]+)/seed~(\d+)/[^/]+$")


def table_runs(name):
    """EXPERIMENT/MODEL/METHOD/SEED of each of table_inputs(name), in order."""
    return ["/".join(SCORE_PATH.search(path).groups()) for path in table_inputs(name)]


def table_cells(name):
    """reward_guided: the grid cells every run of a method must have scores for (`--cells`); else none."""
    if name != "reward_guided":
        return ""
    cells = {method: [[n, t] for n, t in reward_guided_cells(method)] for method in experiment(name)["methods"]}
    return f"--cells {shlex.quote(as_json(cells))}"


def table_settings(name):
    """A table's config slice plus the method order (the order methods are listed in config)."""
    if name == SUITE:
        return {"experiments": {exp: {"method_order": list(experiment(exp)["methods"])} for exp in suite_experiments()}}
    return experiment(name)["table"] | {"method_order": list(experiment(name)["methods"])}


# figure name → the experiment whose score store it plots
FIGURES = {"occupations_per_occupation": "occupations", "rm_forget_lambda_curve": "rm_forget", SUITE: SUITE}


def table_targets():
    return [f"results/tables/{name}.{ext}" for name in table_names() for ext in ("csv", "md", "tex")]


def figure_targets():
    suite = [f"results/figures/{SUITE}.{ext}" for ext in ("png", "pdf")] if suite_experiments() else []
    return [path for name in EXPERIMENTS for path in experiment_figures(name)] + suite


def experiment_figures(name):
    """An experiment's figures: score-store figures (FIGURES) plus its own (training curves)."""
    out = [f"results/figures/{fig}.{ext}" for fig, exp in FIGURES.items() if exp == name for ext in ("png", "pdf")]
    if name == "reward_guided" and reward_guided_trained_adapters() and not UNPACKED:  # read from the adapters
        out.append("results/figures/reward_guided/training_curves.png")
    return out


def train_targets(name):
    """Trained artifacts (adapters, projections) of every trained method of an experiment."""
    exp = experiment(name)
    if name == "reward_guided":
        return reward_guided_trained_adapters()
    if name == "rm_forget":
        return run_paths("train", name, "adapter")
    if name == "desired_distribution":
        return [
            f"results/train/{name}/{m}/{meth}/seed~{s}/model"
            for m, meth, s in desired_distribution_runs()
            if meth != "base"
        ]
    out = []
    for model in exp["models"]:
        for method in exp["methods"]:
            kind = "adapter" if method in ADAPTER_METHODS else "projection" if method in PROJECTION_METHODS else None
            if kind:
                out += [f"results/train/{name}/{model}/{method}/seed~{seed}/{kind}" for seed in exp["seeds"]]
    return out


def experiment_targets(name):
    """Everything an experiment's results need: its tables and figures."""
    return [f"results/tables/{name}.{ext}" for ext in ("csv", "md", "tex")] + experiment_figures(name)


def all_targets():
    """Tables, figures, and every run's evaluations (also those no table shows yet; an unpacked bundle
    rebuilds tables only)."""
    evaluations_ = [] if UNPACKED else sorted({path for name in EXPERIMENTS for path in evaluation_targets(name)})
    return ([] if UNPACKED else testbed_targets()) + table_targets() + figure_targets() + evaluations_


# --- reward_guided: grid of dataset size x temperature x seed ---------------------------------------

# Keys of reward_guided's `generation` block each backend uses (the rest would only cause needless reruns).
RG_CAUSAL_KEYS = ("max_new_tokens", "chat", "system_prompt")
RG_DIFFUSION_KEYS = (
    "gen_length",
    "steps",
    "block_length",
    "cfg_scale",
    "remasking",
    "mask_token_id",
    "chat",
    "system_prompt",
)


def reward_guided_is_diffusion(model):
    return bool(config["models"][model].get("diffusion", False))


def reward_guided_runs():
    """(model, method, seed) of every run; rloo (TRL samples with generate()) only on causal models."""
    exp = experiment("reward_guided")
    return [
        (model, method, seed)
        for model in exp["models"]
        for method in exp["methods"]
        for seed in exp["seeds"]
        if not (method == "rloo" and reward_guided_is_diffusion(model))
    ]


def reward_guided_cells(method):
    """(dataset size, temperature) cells of a method: the base model is size 0; rloo needs temperature > 0."""
    exp = experiment("reward_guided")
    if method == "base":
        return [(0, t) for t in exp["temperatures"]]
    return [(n, t) for n in exp["dataset_sizes"] for t in exp["temperatures"] if not (method == "rloo" and t <= 0)]


def reward_guided_adapter(model, method, seed, size, temperature):
    return f"results/train/reward_guided/{model}/{method}/seed~{seed}/size~{size}/temperature~{temperature:g}/adapter"


def reward_guided_trained_adapters():
    return [
        reward_guided_adapter(model, method, seed, n, t)
        for model, method, seed in reward_guided_runs()
        if method != "base"
        for n, t in reward_guided_cells(method)
    ]


def reward_guided_generation(model, training):
    """The generation keys the model's backend uses; the evaluation batch size does not enter training."""
    gen = experiment("reward_guided")["generation"]
    keys = RG_DIFFUSION_KEYS if reward_guided_is_diffusion(model) else RG_CAUSAL_KEYS
    return {k: gen[k] for k in keys + (() if training else ("batch_size",))}


def reward_guided_train_settings(wildcards):
    exp = experiment("reward_guided")
    return exp["methods"][wildcards.method]["train"] | {
        "dataset_size": int(wildcards.size),
        "temperature": float(wildcards.temperature),
        "reward": exp["reward"],
        "generation": reward_guided_generation(wildcards.model, training=True),
    }


def reward_guided_score_inputs(wildcards):
    inputs = {"pool": "results/data/reward_guided/mcq.parquet", "model": model_input(wildcards.model)}
    if wildcards.method != "base":
        inputs["adapters"] = [
            reward_guided_adapter(wildcards.model, wildcards.method, wildcards.seed, n, t)
            for n, t in reward_guided_cells(wildcards.method)
        ]
    return inputs


def reward_guided_score_cells(wildcards):
    """The grid cells one evaluation job covers, with each cell's adapter (none for the base)."""
    return [
        {
            "size": n,
            "temperature": float(t),
            "adapter": (
                None
                if wildcards.method == "base"
                else reward_guided_adapter(wildcards.model, wildcards.method, wildcards.seed, n, t)
            ),
        }
        for n, t in reward_guided_cells(wildcards.method)
    ]


def reward_guided_score_settings(wildcards):
    exp = experiment("reward_guided")
    return {
        "n_prompts": exp["evaluation"]["n_prompts"],
        "reward": exp["reward"],
        "generation": reward_guided_generation(wildcards.model, training=False),
    }


# --- rm_forget ---------------------------------------------------------------------------------------


def dataset_input(path):
    """Files a job needs before it can load dataset `path`: the testbed file or folder if it is built
    here, the Hub cache's manifest if it is a Hub dataset (compute jobs are offline)."""
    if path.startswith("results/testbed/"):
        return [path]
    return [HUB_MANIFEST] if is_hub_id(path) else []


def forget_train_settings(wildcards):
    """One forget-LoRA's training slice, plus its pair mode (from the method name) and base adapter."""
    exp = experiment("rm_forget")
    return as_json(
        exp["methods"][f"forget_{wildcards.mode}"]["train"]
        | {"pair_mode": wildcards.mode, "base_adapter": exp["base_adapters"].get(wildcards.model)}
    )


def rm_sweep_settings(wildcards):
    exp = experiment("rm_forget")
    return as_json(exp["sweep"] | {"base_adapter": exp["base_adapters"].get(wildcards.model)})


# --- evaluations (evals/): capability and bias columns of an experiment's table -----------------------
# An experiment's `evaluations:` names what to run for every (model, method, seed). Model evaluations run
# one job per run and evaluation (the `evaluate` job): each loads the run's model once, and at scale they are
# hours apart in cost (GLUE fine-tunes per task), so an edit to one evaluation reruns only its jobs.
# `fluency` scores the runs' responses under one reference LM: one job for all runs of the experiment.
# `lm_eval` runs lm-evaluation-harness (optional extra) and keeps its results JSON (the `lm_eval` job).

MODEL_EVALUATIONS = {
    "mmlu": "debiaslab.evals.mmlu",
    "glue": "debiaslab.evals.glue",
    "perplexity": "debiaslab.evals.corpus_perplexity",
    "crows_pairs": "debiaslab.evals.bias_suite.crows_pairs",
    "bias_suite": "debiaslab.evals.bias_suite.suite",
}


def evaluations(name):
    return experiment(name).get("evaluations", {})


# reward_guided's runs hold one adapter per grid cell and no responses file: only model evaluations,
# which `evaluate` runs once per cell, apply there
for _evaluation in set(evaluations("reward_guided") if "reward_guided" in EXPERIMENTS else ()) - set(MODEL_EVALUATIONS):
    raise WorkflowError(
        f"experiments.reward_guided.evaluations.{_evaluation}: not available for reward_guided "
        f"(its runs are evaluated per grid cell); use one of {', '.join(MODEL_EVALUATIONS)}"
    )


# Evaluations no experiment's own table reads: the bias suite's rows go to one cross-experiment table.
OWN_TABLE_EVALUATIONS = ("bias_suite",)


def evaluation_targets(name, in_table=False):
    """Score files of every evaluation of every run of an experiment (a model evaluation's `models`: its runs
    on those models only); `in_table`: only those the experiment's table reads."""
    out = []
    for evaluation, settings in evaluations(name).items():
        if in_table and evaluation in OWN_TABLE_EVALUATIONS:
            continue
        if evaluation == "fluency":
            out += run_paths("scores", name, "eval_fluency.parquet")
            continue
        chosen = settings.get("models") or experiment(name)["models"]
        out += [
            f"results/scores/{name}/{m}/{meth}/seed~{s}/eval_{evaluation}.parquet"
            for m, meth, s in experiment_runs(name)
            if m in chosen
        ]
    return out


def evaluation_slice(name, evaluation):
    """An evaluation's settings without `models` (which runs it covers schedules jobs, never changes a result)."""
    return {k: v for k, v in evaluations(name)[evaluation].items() if k != "models"}


def evaluation_settings(wildcards):
    return evaluation_slice(wildcards.experiment, wildcards.evaluation)


def evaluation_data(wildcards):
    return evaluation_inputs(wildcards.experiment, wildcards.evaluation)


def settings_data(node):
    """The data an evaluation's settings name at any depth (the bias suite nests one per benchmark):
    `dataset` (a name or {path: ...}) and `data` values."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("dataset", "data") and isinstance(value, str):
                yield value
            elif key == "dataset" and isinstance(value, dict) and isinstance(value.get("path"), str):
                yield value["path"]
            else:
                yield from settings_data(value)


def evaluation_inputs(name, evaluation):
    """What an evaluation's data needs first: a testbed folder or file built here, or the Hub cache's manifest."""
    settings = evaluation_slice(name, evaluation)
    paths = list(settings_data(settings))
    if "testbed_mmlu" in settings.get("tasks", ()):
        paths.append("results/testbed/mmlu")
    return sorted({f for p in paths for f in dataset_input(p)})


def evaluation_artifacts(wildcards):
    """What an `evaluate` job applies to the base model: the method's artifact (method_artifact), or for
    reward_guided every grid cell's adapter (none for the base model)."""
    if wildcards.experiment == "reward_guided":
        return {"cells": [c["adapter"] for c in reward_guided_score_cells(wildcards) if c["adapter"]]}
    return method_artifact(wildcards)


def evaluation_flags(wildcards, input):
    """`--adapter/--projection/--trained DIR`, or reward_guided's `--cells` (each cell's label and adapter)."""
    if wildcards.experiment == "reward_guided":
        cells = [
            {"label": cell_label(c["size"], c["temperature"]), "adapter": c["adapter"]}
            for c in reward_guided_score_cells(wildcards)
        ]
        return f"--cells {shlex.quote(as_json(cells))}"
    return artifact_flags(wildcards, input)


def run_ids(name):
    """EXPERIMENT/MODEL/METHOD/SEED of every run, in run_paths' order."""
    exp = experiment(name)
    return [
        f"{name}/{model}/{method}/{seed}"
        for model in exp["models"]
        for method in exp["methods"]
        for seed in exp["seeds"]
    ]


def fluency_settings(name):
    return {k: v for k, v in evaluations(name)["fluency"].items() if k != "reference"}


# --- Scale: offline Hub cache, cluster resources, multi-GPU launch (docs/slurm.md) ---

HUB_CACHE = str(Path(config["hub_cache"]).expanduser().resolve())
HUB_REFERENCES = hub_references(config)
HUB_MANIFEST = "results/hub/manifest.json"

# Every job reads Hub models and datasets from the cache, offline: compute nodes often have no
# network, and no job may fetch what the DAG did not declare. hub_download alone goes online.
# SLURM jobs inherit this environment (sbatch --export=ALL) and re-read this file on the node.
os.environ.update(
    HF_HUB_CACHE=f"{HUB_CACHE}/hub",
    HF_DATASETS_CACHE=f"{HUB_CACHE}/datasets",
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
)

# Gated models (`gated: true`) need HF_TOKEN, and only hub_download uses it, reading it from the
# environment (huggingface_hub does; it never appears on a command line, in a log or an artifact).
# While that download is still to run, a run without it stops before any job (`onstart`: a dry-run,
# which runs nothing, needs no secret); once the cache is built, offline reruns need none.
TOKEN_NEEDED = (
    not UNPACKED and any(m.get("gated") for m in HUB_REFERENCES["models"]) and not Path(HUB_MANIFEST).exists()
)


def check_token():
    if not TOKEN_NEEDED:
        return
    from huggingface_hub import get_token  # HF_TOKEN, or the token `hf auth login` stored

    if get_token() is None:
        gated = ", ".join(m["repo"] for m in HUB_REFERENCES["models"] if m.get("gated"))
        raise WorkflowError(
            f"HF_TOKEN is not set: gated model(s) {gated} are still to be downloaded (hub_download); "
            "export HF_TOKEN (a Hub token whose account accepted the licence) and run again"
        )


def slurm_profile():
    """Under profiles/slurm (or any profile whose default resources name a SLURM partition or account)."""
    defaults = workflow.resource_settings.default_resources
    return any(str(arg).startswith("slurm_") for arg in (getattr(defaults, "args", None) or ()))


# On a cluster a job's memory and runtime grow with its model's size (scaled_resources): a Hub model
# without `size_b` would get the smallest request (16 GB, 1 h for training) and be killed hours later.
if slurm_profile() and not UNPACKED:
    _unsized = sorted(
        {
            m
            for exp in EXPERIMENTS.values()
            for m in exp.get("models", [])
            if is_hub_id(config["models"][m]["path"]) and not config["models"][m].get("size_b")
        }
    )
    if _unsized:
        raise WorkflowError(
            "\n  ".join(
                [
                    "invalid config for a SLURM run:",
                    *(
                        f"models.{m}.size_b: required under the SLURM profile (billions of parameters; it sizes the jobs' "
                        "memory and runtime)"
                        for m in _unsized
                    ),
                ]
            )
        )


def model_size_b(wildcards):
    return float(config["models"][wildcards.model].get("size_b") or 0)


def scaled_resources(mem_mb, mem_mb_per_b, runtime, runtime_per_b):
    """Memory (MB) and runtime (min) of a job that loads model {model}: they grow with the model's
    size (config `size_b`, billions of parameters) and with each retry (attempt 2 asks for twice),
    so a job killed for memory or time succeeds when resubmitted. Partitions and GPUs are the
    profile's (profiles/slurm), never the rule's."""
    return dict(
        mem_mb=lambda wildcards, attempt: int((mem_mb + mem_mb_per_b * model_size_b(wildcards)) * attempt),
        runtime=lambda wildcards, attempt: int((runtime + runtime_per_b * model_size_b(wildcards)) * attempt),
    )


# Training jobs: `gpu` (how many; the profile sets it) and `distributed` (ddp, fsdp, or an accelerate
# config file) decide how LAUNCH starts the trainer; 0 GPUs = plain CPU/single-device run.
TRAIN_RESOURCES = scaled_resources(16000, 6000, 60, 30) | {"gpu": 0, "distributed": "ddp"}
GENERATE_RESOURCES = scaled_resources(8000, 4000, 60, 60)
ACCELERATE_CONFIGS = {
    name: str(Path(workflow.basedir) / "workflow" / "accelerate" / f"{name}.yaml") for name in ("ddp", "fsdp")
}


class Launcher:
    """`{params.launch:{resources.distributed},{resources.gpu}}` (with `launch=LAUNCH` in params)
    at the start of a training rule's shell command.

    With at most one GPU it is `debiaslab`; with more, `accelerate launch` runs the same CLI once
    per GPU (DDP by default; `distributed: fsdp` shards the model; any other value is an accelerate
    config file). The command follows the job's resources, which the profile sets, through a format
    spec: the GPU count is not in params (a rerun trigger), since moving a job to another cluster
    layout must not retrain it, and Snakemake leaves this object out of its params check (it
    records only plain values).
    """

    def __format__(self, spec):
        strategy, _, gpus = spec.rpartition(",")
        if int(gpus or 0) <= 1:
            return "debiaslab"
        config_file = shlex.quote(ACCELERATE_CONFIGS.get(strategy, strategy))
        return f"accelerate launch --config_file {config_file} --num_processes {int(gpus)} -m debiaslab.cli"


LAUNCH = Launcher()


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
    resolved = {role: settings | {"model": model_entry(settings["model"])} for role, settings in exp["scoring"].items()}
    return {"bias_types": exp["bias_types"]} | resolved


def safety_scorer_inputs(wildcards):
    return [
        path
        for role in ("bias_classifier", "reward_model")
        for path in model_input(experiment("safety")["scoring"][role]["model"])
    ]


# --- desired_distribution ----------------------------------------------------------------------------


def desired_distribution_runs():
    """(model, method, seed) of every desired_distribution run: `base` once per model (at the first
    seed, as the source scored the unmitigated model unseeded), each method on its `models` subset."""
    exp = experiment("desired_distribution")
    runs = []
    for model in exp["models"]:
        for method, settings in exp["methods"].items():
            if model in (settings.get("models") or exp["models"]):
                runs += [(model, method, seed) for seed in (exp["seeds"][:1] if method == "base" else exp["seeds"])]
    return runs


def desired_distribution_score_input(wildcards):
    """The sentence table, the base model (if built here) and the run's trained folder (unless base)."""
    inputs = {"sentences": "results/data/desired_distribution/sentences.parquet", "model": model_input(wildcards.model)}
    if wildcards.method != "base":
        inputs["trained"] = (
            f"results/train/desired_distribution/{wildcards.model}/{wildcards.method}/seed~{wildcards.seed}/model"
        )
    return inputs


# --- A clone holding an unpacked bundle: tables and figures from its score files only ----------------

if UNPACKED:
    _bundle_config = load_yaml(UNPACKED["config"])
    try:
        validate(_bundle_config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
    except ConfigError as error:
        raise WorkflowError(f"{UNPACKED['config']}: {error}") from None
    if json.dumps(_bundle_config) != json.dumps(config):
        raise WorkflowError(
            f"this clone holds an unpacked bundle ({UNPACKED['archive']}) and its tables are "
            f"rebuilt with the run's config: run without --configfile ({UNPACKED['config']} is used)"
        )
    _problems = bundle.rebuild_problems([p for name in EXPERIMENTS for p in table_inputs(name)], UNPACKED)
    if _problems:
        _more = [f"... and {len(_problems) - 5} more"] if len(_problems) > 5 else []
        raise WorkflowError(
            "\n  ".join(["cannot rebuild from the unpacked bundle, nothing was run:", *_problems[:5], *_more])
        )
