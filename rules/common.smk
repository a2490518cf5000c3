# Config validation, targets and generic helpers. No stage or experiment logic lives here: the rules
# loop over the configured experiments and read what each needs from its interface
# (debiaslab/experiments/base.py, registered in debiaslab/experiments/registry.py); every rule calls one
# `debiaslab` subcommand with its slice of the config.

import json
import os
import re
import shlex
from pathlib import Path

from debiaslab.aggregate import bundle
from debiaslab.aggregate.bias_suite import NAME as SUITE
from debiaslab.aggregate.captions import rst_escape, table_caption
from debiaslab.core.config import ConfigError, as_json, load_yaml
from debiaslab.core.config import model_entry as config_model_entry
from debiaslab.core.io import locate_file as locate_gguf
from debiaslab.core.paths import Layout, results_root
from debiaslab.core.provenance import source_fingerprint
from debiaslab.evals.registry import EVALUATIONS, MODEL_EVALUATIONS
from debiaslab.experiments import registry
from debiaslab.experiments.base import Run, Setup, module_of
from debiaslab.generation.responses import PROJECTION_MODULE
from debiaslab.hub.download import is_hub_id, missing_local_paths, offline_environment
from debiaslab.hub.download import references as hub_references
from debiaslab.methods.registry import METHODS, with_kind

SCHEMA = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"

try:
    # Snakemake's YAML loader keeps the last of two equal keys: each config file is read again, strictly
    for _path in workflow.configfiles:
        load_yaml(_path)
    # the schema directory as a whole (each experiment's fragment) and every experiment's checks
    registry.validate(config, SCHEMA)
    # a bundle's config names the run's local folders, which a reviewer's clone need not have
    _problems = [] if UNPACKED else missing_local_paths(config)
    if _problems:
        raise ConfigError("\n  ".join(["invalid config:", *_problems]))
except ConfigError as error:
    raise WorkflowError(str(error)) from None

# Every path of this config's artifacts: results/<name>/... (debiaslab/core/paths.py, docs/configuration.md).
R = Layout(results_root(config))
EXPERIMENTS = config["experiments"]
EXP = {name: registry.get(name) for name in EXPERIMENTS}  # each configured experiment's interface
SETUP = {name: Setup(name, config, R) for name in EXPERIMENTS}  # what its rule-side functions read
TRAINED_METHODS = with_kind(*("adapter", "projection", "model"))  # each run of one has a `train` job
DECODING_METHODS = with_kind("decoding")  # their config slice goes to the generate job
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
    """Fingerprint of a training job's code: the runner and that method's trainer only."""
    return code("debiaslab.methods.train", METHODS[method].module)


def generation_code(experiment, method):
    """Fingerprint of a generation job's code: the stage entry plus what its method uses (the decoder and the
    experiment's criterion for it, or the projection)."""
    kind = METHODS[method].kind if method in METHODS else "none"
    extra = [METHODS[method].module, module_of(EXP[experiment].decoding[method])] if kind == "decoding" else []
    extra += [PROJECTION_MODULE] if kind == "projection" else []
    return code("debiaslab.generation.responses", *extra)


def experiment(name):
    return EXPERIMENTS[name]


def run_of(wildcards):
    return Run(wildcards.model, wildcards.method, int(wildcards.seed))


def run_id(name, run):
    """EXPERIMENT/MODEL/METHOD/SEED (what `--run` takes)."""
    return f"{name}/{run.model}/{run.method}/{run.seed}"


# --- models and datasets ---------------------------------------------------------------------------

HUB_MANIFEST = R("hub", "manifest.json")


def is_gguf_model(name):
    return "gguf" in config["models"][name]


def model_entry(name):
    """The model's config entry as jobs get it (debiaslab/core/config.py model_entry)."""
    return config_model_entry(config, name)


def model_spec(name):
    """The model's config entry as canonical JSON (what `--model` takes)."""
    return as_json(model_entry(name))


def model_input(name):
    """Files a job needs before it can load model `name`: the testbed model folder if this config builds it,
    the converted folder of a GGUF file, the Hub cache's manifest if it is a Hub model (compute jobs are
    offline)."""
    if is_gguf_model(name):
        return [R.imported_model(name)["model"]]
    return dataset_input(config["models"][name]["path"])


def dataset_input(path):
    """Files a job needs before it can load a model or dataset at `path`: the testbed file or folder if this
    config builds it, the Hub cache's manifest if it is a Hub repository (compute jobs are offline)."""
    if path.startswith(R.testbed() + "/"):
        return [path]
    return [HUB_MANIFEST] if is_hub_id(path) else []


# --- runs, grid cells and trained artifacts (each experiment's `runs` and `cells`) -----------------


def runs(name):
    """Every (model, method, seed) of an experiment, in its own order."""
    return EXP[name].all_runs(SETUP[name])


def cells(name, run):
    """A run's grid cells ([None]: the run is one cell)."""
    return EXP[name].run_cells(SETUP[name], run)


def run_paths(stage, name, filename):
    """<root>/<stage>/<experiment>/<model>/<method>/seed~<seed>/<filename> for every run of an experiment."""
    return [R.run(stage, name, r.model, r.method, r.seed, filename) for r in runs(name)]


def trained_artifacts(name):
    """Every trained artifact of an experiment: one per run of a trained method (per trained grid cell)."""
    return [
        SETUP[name].trained(run, cell)
        for run in runs(name)
        if METHODS[run.method].trained
        for cell in cells(name, run)
        if cell is None or cell.trained
    ]


# how a trained artifact is applied to the base model: the option generation and evaluations take
ARTIFACT_OPTION = {"adapter": "adapter", "projection": "projection", "model": "trained"}


def method_artifact(wildcards):
    """The trained artifact generation applies for this run: {"adapter"|"projection"|"trained": dir} or {}."""
    method = METHODS[wildcards.method]
    if not method.trained:
        return {}
    return {ARTIFACT_OPTION[method.kind]: SETUP[wildcards.experiment].trained(run_of(wildcards))}


def artifact_flags(wildcards, input):
    return " ".join(f"--{kind} {input[kind]}" for kind in ARTIFACT_OPTION.values() if kind in input.keys())


def decoding_settings(wildcards):
    """A decoding-time method's own config slice (empty for every other method)."""
    if wildcards.method in DECODING_METHODS:
        return experiment(wildcards.experiment)["methods"][wildcards.method]
    return {}


# --- the generic train rule: one job per trained artifact ------------------------------------------


def train_job(wildcards):
    """(setup, run, cell) of a `train` job: the cell from the artifact's folder levels (size~64/temperature~0.7/)."""
    setup, run = SETUP[wildcards.experiment], run_of(wildcards)
    prefix, _, kind = wildcards.artifact.rpartition("/")
    if kind != METHODS[run.method].kind:
        raise WorkflowError(f"{wildcards.artifact}: {run.method}'s trained artifact is `{METHODS[run.method].kind}`")
    if not prefix:
        return setup, run, None
    by_path = {cell.path: cell for cell in cells(wildcards.experiment, run) if cell is not None}
    if prefix not in by_path:
        raise WorkflowError(f"{wildcards.artifact}: no grid cell {prefix!r} of {run_id(wildcards.experiment, run)}")
    return setup, run, by_path[prefix]


def train_inputs(wildcards):
    setup, run, _ = train_job(wildcards)
    return {"data": setup.data(EXP[setup.name].training.data(setup, run)), "model": model_input(run.model)}


def train_settings(wildcards):
    setup, run, cell = train_job(wildcards)
    return EXP[setup.name].training.settings(setup, run, cell)


# --- scoring: each experiment's `scoring` -----------------------------------------------------------


def score_inputs(name):
    """The input function of `score_<name>`: the scoring's named files plus the files of the models it loads."""

    def inputs(wildcards):
        setup, run, spec = SETUP[name], run_of(wildcards), EXP[name].scoring
        models = ([run.model] if spec.model else []) + spec.models(setup)
        return spec.inputs(setup, run) | {"model_files": sorted({f for m in models for f in model_input(m)})}

    return inputs


def score_params(name, what):
    """A params function of `score_<name>`: its settings, named inputs or arguments as JSON, its run, or the
    `--model` option (where the scoring loads the run's model)."""

    def params(wildcards):
        setup, run, spec = SETUP[name], run_of(wildcards), EXP[name].scoring
        if what == "settings":
            return as_json(spec.settings(setup, run))
        if what == "inputs":
            return as_json(spec.inputs(setup, run))
        if what == "run":
            return run_id(name, run)
        if what == "model":
            return f" --model {shlex.quote(model_spec(run.model))}" if spec.model else ""
        return as_json(spec.arguments(setup, run) if spec.arguments else {})

    return params


# --- data: each experiment's `data` artifacts ------------------------------------------------------


def data_settings(name, artifact):
    return lambda wildcards: as_json(artifact.settings(SETUP[name], wildcards))


def data_inputs(name, artifact):
    return lambda wildcards: sorted({f for path in artifact.datasets(SETUP[name]) for f in dataset_input(path)})


def data_log_name(artifact):
    """<artifact>[/{method}][/seed~{seed}]: a data job's log and benchmark name."""
    parts = {"method": "{method}", "seed": "seed~{seed}"}
    return "/".join([artifact.name, *(parts[w] for w in artifact.wildcards())])


def data_flags(artifact):
    """` --method M --seed S` where the artifact's outputs have those wildcards."""
    return lambda wildcards: "".join(f" --{w} {wildcards[w]}" for w in artifact.wildcards())


def output_flags(wildcards, output):
    """`--out NAME=PATH` for each named output of a data job."""
    return " ".join(f"--out {key}={path}" for key, path in output.items())


# --- tables and figures ----------------------------------------------------------------------------


def testbed_targets():
    if "testbed" not in config:
        return []
    return [R.testbed(name) for name in ("lm", "mlm", "mmlu", "glue")]


def evaluations(name):
    return experiment(name).get("evaluations", {})


# The cross-experiment table and figure of the bias suite (aggregate/bias_suite.py): every run's
# eval_bias_suite.parquet, each experiment a section compared with its own baseline.


def suite_experiments():
    return [name for name in EXPERIMENTS if SUITE in evaluations(name)]


def table_names():
    """Every table the config defines: one per experiment, and the bias suite's if any experiment runs it."""
    return list(EXPERIMENTS) + ([SUITE] if suite_experiments() else [])


def table_inputs(name):
    """Score-store files a table is computed from: an experiment's scores of every run, and its evaluations
    that its table reads; the bias suite's, every suite evaluation."""
    if name == SUITE:
        return [
            path
            for exp in suite_experiments()
            for path in evaluation_targets(exp)
            if Path(path).name == f"eval_{SUITE}.parquet"
        ]
    return run_paths("scores", name, "scores.parquet") + evaluation_targets(name, in_table=True)


# A score file's run, from its path: what the table checks the file holds (aggregate/completeness.py).
SCORE_PATH = re.compile(r"scores/([^/]+)/([^/]+)/([^/]+)/seed~(\d+)/[^/]+$")


def table_runs(name):
    """EXPERIMENT/MODEL/METHOD/SEED of each of table_inputs(name), in order."""
    return ["/".join(SCORE_PATH.search(path).groups()) for path in table_inputs(name)]


def table_cells(name):
    """Runs scored per grid cell: the cells every run of a method must have scores for (`--cells`); else none."""
    if name == SUITE or EXP[name].cells is None:
        return ""
    labels = {run.method: [cell.label for cell in cells(name, run)] for run in runs(name)}
    return f"--cells {shlex.quote(as_json(labels))}"


def table_settings(name):
    """A table's config slice plus the method order (the order methods are listed in config); the bias
    suite's: each experiment's method order, baseline and grid."""
    if name == SUITE:
        sections = registry.suite_sections(suite_experiments())
        return {
            "experiments": {
                exp: {"method_order": list(experiment(exp)["methods"])} | sections[exp] for exp in suite_experiments()
            }
        }
    return experiment(name)["table"] | {"method_order": list(experiment(name)["methods"])}


# figure name → the experiment whose score store it plots (or the bias suite)
FIGURES = {fig: exp for fig, (exp, _) in registry.figures().items() if exp in EXPERIMENTS} | (
    {SUITE: SUITE} if suite_experiments() else {}
)
# figures from trained artifacts: (experiment, figure) → its rule's outputs
TRAINED_FIGURES = {
    (name, fig): {"png": R("figures", name, f"{fig}.png"), "csv": R("figures", name, f"{fig}.csv")}
    for name in EXPERIMENTS
    for fig, spec in EXP[name].figures.items()
    if spec.source == "trained"
}


def table_modules(name):
    """What a table job runs besides aggregate.build: the experiment's table module and its definition (which
    holds its baseline), or the bias suite's module."""
    if name == SUITE:
        return ["debiaslab.aggregate.bias_suite"]
    return [module_of(EXP[name].table), registry.EXPERIMENTS[name]]


def figure_modules(name):
    if name == SUITE:
        return ["debiaslab.aggregate.bias_suite"]
    experiment_, spec = registry.figures()[name]
    return [module_of(spec.entry), registry.EXPERIMENTS[experiment_]]


def table_caption_rst(name):
    return rst_escape(table_caption(registry.table_spec(name, table_settings(name))))


def figure_caption_rst(name, experiment=None):
    settings = table_settings(experiment or FIGURES[name])
    return rst_escape(registry.figure_caption(name, settings, experiment))


def table_targets():
    return [R("tables", f"{name}.{ext}") for name in table_names() for ext in ("csv", "md", "tex")]


def figure_targets():
    suite = [R("figures", f"{SUITE}.{ext}") for ext in ("png", "pdf")] if suite_experiments() else []
    return [path for name in EXPERIMENTS for path in experiment_figures(name)] + suite


def experiment_figures(name):
    """An experiment's figures: from the score store, and (outside a rebuild-only clone) from its trained
    artifacts (training curves), where it has any."""
    out = [R("figures", f"{fig}.{ext}") for fig, exp in FIGURES.items() if exp == name for ext in ("png", "pdf")]
    if trained_artifacts(name) and not UNPACKED:
        out += [paths["png"] for (exp, _), paths in TRAINED_FIGURES.items() if exp == name]
    return out


def train_targets(name):
    """Trained artifacts (adapters, projections, models) of every trained method of an experiment."""
    return trained_artifacts(name)


def experiment_targets(name):
    """Everything an experiment's results need: its tables and figures."""
    return [R("tables", f"{name}.{ext}") for ext in ("csv", "md", "tex")] + experiment_figures(name)


def all_targets():
    """Tables, figures, and every run's evaluations (also those no table shows yet; an unpacked bundle
    rebuilds tables only)."""
    evaluations_ = [] if UNPACKED else sorted({path for name in EXPERIMENTS for path in evaluation_targets(name)})
    return ([] if UNPACKED else testbed_targets()) + table_targets() + figure_targets() + evaluations_


# --- evaluations (evals/registry.py): capability and bias columns of an experiment's table ----------
# An experiment's `evaluations:` names what to run for every (model, method, seed). Model evaluations run
# one job per run and evaluation (the `evaluate` job): each loads the run's model once, and at scale they are
# hours apart in cost (GLUE fine-tunes per task), so an edit to one evaluation reruns only its jobs.
# `fluency` scores the runs' responses under one reference LM: one job for all runs of the experiment.
# `lm_eval` runs lm-evaluation-harness (optional extra) and keeps its results JSON (the `lm_eval` job).


def evaluation_targets(name, in_table=False):
    """Score files of every evaluation of every run of an experiment (a model evaluation's `models`,
    `methods` and `seeds`: its runs of those only); `in_table`: only those the experiment's table reads."""
    out = []
    for evaluation, settings in evaluations(name).items():
        if in_table and EVALUATIONS[evaluation].own_table:
            continue
        if EVALUATIONS[evaluation].kind == "responses":
            out += run_paths("scores", name, f"eval_{evaluation}.parquet")
            continue
        models = settings.get("models") or experiment(name)["models"]
        methods = settings.get("methods") or experiment(name)["methods"]
        seeds = settings.get("seeds") or experiment(name)["seeds"]
        out += [
            R.run("scores", name, r.model, r.method, r.seed, f"eval_{evaluation}.parquet")
            for r in runs(name)
            if r.model in models and r.method in methods and r.seed in seeds
        ]
    return out


def evaluation_slice(name, evaluation):
    """An evaluation's settings without `models`, `methods` and `seeds` (which runs it covers schedules jobs,
    never changes a result)."""
    return {k: v for k, v in evaluations(name)[evaluation].items() if k not in ("models", "methods", "seeds")}


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
        paths.append(R.testbed("mmlu"))
    return sorted({f for p in paths for f in dataset_input(p)})


def graded(wildcards):
    """A run scored per grid cell: (cell, its artifact or None) of every cell; else None."""
    if EXP[wildcards.experiment].cells is None:
        return None
    setup, run = SETUP[wildcards.experiment], run_of(wildcards)
    return [(cell, setup.trained(run, cell) if cell.trained else None) for cell in cells(wildcards.experiment, run)]


def evaluation_artifacts(wildcards):
    """What an `evaluate` job applies to the base model: the method's artifact (method_artifact), or for a
    run of grid cells every cell's artifact (none for an untrained cell)."""
    grid = graded(wildcards)
    if grid is not None:
        return {"cells": [artifact for _, artifact in grid if artifact]}
    return method_artifact(wildcards)


def evaluation_flags(wildcards, input):
    """`--adapter/--projection/--trained DIR`, or for a run of grid cells `--cells` (each cell's label and adapter)."""
    grid = graded(wildcards)
    if grid is not None:
        cells_ = [{"label": cell.label, "adapter": artifact} for cell, artifact in grid]
        return f"--cells {shlex.quote(as_json(cells_))}"
    return artifact_flags(wildcards, input)


def run_ids(name):
    """EXPERIMENT/MODEL/METHOD/SEED of every run, in run_paths' order."""
    return [run_id(name, r) for r in runs(name)]


def fluency_settings(name):
    return {k: v for k, v in evaluations(name)["fluency"].items() if k != "reference"}


# --- Scale: offline Hub cache, cluster resources, multi-GPU launch (docs/slurm.md) ---

HUB_REFERENCES = hub_references(config)
# Every job reads Hub models and datasets from the cache, offline: compute nodes often have no network,
# and no job may fetch what the DAG did not declare. Every job's shell command starts by exporting it
# (SLURM jobs too: they run the same commands); hub_download alone goes online, overriding it.
HUB_ENV = offline_environment(config["hub_cache"])
shell.prefix("set -euo pipefail; export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in HUB_ENV.items()) + "; ")

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
# config file) are passed to `debiaslab --gpus --distributed`, which runs itself under `accelerate launch`
# with more than one GPU (debiaslab/runtime/launch.py); 0 GPUs = plain CPU/single-device run. Resources,
# not params: moving a job to another cluster layout retrains nothing.
TRAIN_RESOURCES = scaled_resources(16000, 6000, 60, 30) | {"gpu": 0, "distributed": "ddp"}
GENERATE_RESOURCES = scaled_resources(8000, 4000, 60, 60)


# --- A clone holding an unpacked bundle: tables and figures from its score files only ----------------

if UNPACKED:
    _bundle_config = load_yaml(UNPACKED["config"])
    try:
        registry.validate(_bundle_config, SCHEMA)
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
