# debiaslab: LoRA-based bias-mitigation experiments as one cached DAG.
#
#   snakemake --cores 2 all                         # the default config: offline testbed, every experiment
#   snakemake --cores 2 results/testbed/tables/occupations.md
#   snakemake --profile slurm all --configfile config/experiments/occupations.yaml   # docs/slurm.md
#
# Each config's artifacts live under results/<its name>/ (docs/configuration.md#results-root); the rules of
# every configured experiment are generated from its interface (debiaslab/experiments/).
#
# A --configfile *replaces* the embedded default (config/config.yaml, the testbed)
# instead of being merged into it, so a full-scale run never inherits a testbed value.

from snakemake.utils import min_version

from debiaslab.runtime import warm_start
from debiaslab.aggregate.bundle import unpacked_bundle
from debiaslab.core.config import ConfigError, load_yaml
from debiaslab.core.io import DataError

min_version("9.0")

# A clone holding an unpacked bundle (`debiaslab unbundle`, docs/reproducibility.md#the-reviewers-rebuild) rebuilds tables
# and figures only: with the run's own config, and without a rule that could train, generate or score.
try:
    UNPACKED = unpacked_bundle()
except DataError as error:
    raise WorkflowError(str(error)) from None

if not workflow.overwrite_configfiles:
    _configfile = UNPACKED["config"] if UNPACKED else "config/config.yaml"
    try:  # bytes that are not UTF-8, a duplicate key: one line here, not a traceback from Snakemake's loader
        load_yaml(_configfile)
    except ConfigError as error:
        raise WorkflowError(str(error)) from None

    configfile: _configfile


include: "rules/common.smk"


if not UNPACKED:

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
# imports per job (debiaslab/runtime/warm_start.py; docs/warm-start.md). Cluster jobs run as they are.
onstart:
    check_token()  # before any job, but not in a dry-run (which needs no secret)
    warm_start.start_for(workflow, R("logs/warm_start.log"), env=HUB_ENV)


onsuccess:
    warm_start.stop_server()


onerror:
    warm_start.stop_server()


# Jobs that run on the login node even under `--profile slurm`: the Hub download (compute nodes are
# offline), the tiny testbed corpus/tokenizer steps and aggregation; an experiment's light data and
# scoring jobs say so themselves (`localrule:` in the generated rules). Everything else is a cluster
# job (docs/slurm.md).
localrules:
    table,
    figure,
    bundle,


if not UNPACKED:

    localrules:
        hub_download,
        testbed_corpus,
        testbed_tokenizers,
        testbed_mmlu,
        testbed_glue,
        testbed_bias_suite,


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
        [path for name in EXPERIMENTS for path in table_inputs(name) + evaluation_targets(name)],


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
