# debiaslab: LoRA-based bias-mitigation experiments as one cached DAG.
#
#   snakemake --cores 2 all                         # the default config: offline testbed, every experiment
#   snakemake --cores 2 results/tables/occupations.md
#   snakemake --profile slurm all --configfile config/experiments/occupations.yaml   # README "Running on SLURM"
#
# A --configfile *replaces* the embedded default (config/config.yaml, the testbed)
# instead of being merged into it, so a full-scale run never inherits a testbed value.

from snakemake.utils import min_version

from debiaslab import warm_start

min_version("9.0")

if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/hub.smk"
include: "rules/models.smk"
include: "rules/testbed.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/generate.smk"
include: "rules/score.smk"
include: "rules/evaluate.smk"
include: "rules/aggregate.smk"


# Local runs: each job runs in a fork of one process that imported torch & co. once, not ~4 s of
# imports per job (debiaslab/warm_start.py; README "Warm start"). Cluster jobs run as they are.
onstart:
    warm_start.start_for(workflow, "results/logs/warm_start.log")


onsuccess:
    warm_start.stop_server()


onerror:
    warm_start.stop_server()


# Jobs that run on the login node even under `--profile slurm`: the Hub download (compute nodes are
# offline), the tiny testbed corpus/tokenizer steps, data and prompt tables, balance scoring and
# aggregation. Everything else is a cluster job (README "Running on SLURM").
localrules:
    hub_download,
    testbed_corpus,
    testbed_tokenizers,
    testbed_mmlu,
    testbed_glue,
    occupations_training_data,
    occupations_prompts,
    desired_distribution_sentences,
    score_occupations,
    table,
    figure,
    bundle,


rule all:
    default_target: True
    input:
        all_targets(),


# Named partial targets: `snakemake --cores 2 train_all`, `... occupations`, `... tables`.


rule testbed:
    input:
        testbed_targets(),


rule train_all:
    input:
        [path for name in EXPERIMENTS for path in train_targets(name)],


rule evaluate_all:
    input:
        [path for name in EXPERIMENTS for path in table_inputs(name)],


rule tables:
    input:
        table_targets(),


rule figures:
    input:
        figure_targets(),


for _experiment in EXPERIMENTS:

    rule:
        name:
            _experiment
        input:
            experiment_targets(_experiment),
