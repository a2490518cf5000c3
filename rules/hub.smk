# Offline compute nodes: one job on the login node (a localrule) downloads every Hub model and
# dataset the config names into `hub_cache`; every other job reads it with HF_HUB_OFFLINE=1.
# Jobs that load a Hub model depend on the manifest through model_input (rules/common.smk); every job's
# shell command exports the offline environment first (HUB_ENV), which this one overrides.

# A gated model's token: checked before any job in `onstart` (rules/common.smk check_token).


rule hub_download:
    output:
        HUB_MANIFEST,
    log:
        R("logs/hub/download.log"),
    benchmark:
        R("benchmarks/hub/download.tsv")
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        references=lambda w: as_json(HUB_REFERENCES),
        cache=config["hub_cache"],
        code=code("debiaslab.hub.download"),
    shell:
        # online for this job only; the token, if any, comes from the environment (never the command line)
        "HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0 TRANSFORMERS_OFFLINE=0"
        " debiaslab hub download --references {params.references:q} --cache {params.cache:q} --out {output}"
        " > {log} 2>&1"
