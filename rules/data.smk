# Training data and prompt sets, one job per (experiment, method, seed) so editing one
# method's data settings never rewrites another method's data.


rule occupations_training_data:
    output:
        "results/data/occupations/{method}/seed~{seed}/train.parquet",
    log:
        "results/logs/data/occupations/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/data/occupations/{method}/seed~{seed}.tsv"
    wildcard_constraints:
        method="sft|dpo|inlp",
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(occupations_split() | experiment("occupations")["methods"][w.method].get("data", {})),
        code=code("debiaslab.data.occupations"),
    shell:
        "debiaslab data occupations {wildcards.method} --settings {params.settings:q} --seed {wildcards.seed}"
        " --out {output} > {log} 2>&1"


rule occupations_prompts:
    output:
        "results/data/occupations/prompts.parquet",
    log:
        "results/logs/data/occupations/prompts.log",
    benchmark:
        "results/benchmarks/data/occupations/prompts.tsv"
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(
            occupations_split()
            | {"samples_per_occupation": experiment("occupations")["generation"]["samples_per_occupation"]}
        ),
        code=code("debiaslab.data.occupations"),
    shell:
        "debiaslab data occupations prompts --settings {params.settings:q} --out {output} > {log} 2>&1"


rule reward_guided_mcq:
    output:
        "results/data/reward_guided/mcq.parquet",
    log:
        "results/logs/data/reward_guided/mcq.log",
    benchmark:
        "results/benchmarks/data/reward_guided/mcq.tsv"
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(experiment("reward_guided")["data"]),
        code=code("debiaslab.data.mcq"),
    shell:
        "debiaslab data reward-guided --settings {params.settings:q} --out {output} > {log} 2>&1"


rule rm_forget_data:
    input:
        lambda w: dataset_input(experiment("rm_forget")["data"]["dataset"]["path"]),
    output:
        pairs="results/data/rm_forget/train_pairs.parquet",
        rmbench="results/data/rm_forget/rmbench_items.parquet",
    log:
        "results/logs/data/rm_forget.log",
    benchmark:
        "results/benchmarks/data/rm_forget.tsv"
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(experiment("rm_forget")["data"]),
        code=code("debiaslab.data.gsm8k_styles"),
    shell:
        "debiaslab data rm-forget --settings {params.settings:q} --pairs {output.pairs} --items {output.rmbench} > {log} 2>&1"


rule safety_data:
    input:
        lambda w: dataset_input(experiment("safety")["data"]["dataset"]),
    output:
        sft="results/data/safety/sft/seed~{seed}/train.parquet",
        dpo="results/data/safety/dpo/seed~{seed}/train.parquet",
    log:
        "results/logs/data/safety/seed~{seed}.log",
    benchmark:
        "results/benchmarks/data/safety/seed~{seed}.tsv"
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(experiment("safety")["data"]),
        code=code("debiaslab.data.hh_rlhf"),
    shell:
        "debiaslab data safety train --settings {params.settings:q} --seed {wildcards.seed}"
        " --sft-out {output.sft} --dpo-out {output.dpo} > {log} 2>&1"


rule safety_prompts:
    input:
        lambda w: dataset_input(experiment("safety")["prompts"]["dataset"]),
    output:
        "results/data/safety/prompts.parquet",
    log:
        "results/logs/data/safety/prompts.log",
    benchmark:
        "results/benchmarks/data/safety/prompts.tsv"
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(experiment("safety")["prompts"] | {"bias_types": experiment("safety")["bias_types"]}),
        code=code("debiaslab.data.bias_prompts"),
    shell:
        "debiaslab data safety prompts --settings {params.settings:q} --out {output} > {log} 2>&1"


rule desired_distribution_sentences:
    output:
        "results/data/desired_distribution/sentences.parquet",
    log:
        "results/logs/data/desired_distribution/sentences.log",
    benchmark:
        "results/benchmarks/data/desired_distribution/sentences.tsv"
    priority: PRIORITY["data"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(experiment("desired_distribution")["data"]),
        code=code("debiaslab.data.desired_distribution"),
    shell:
        "debiaslab data desired-distribution --settings {params.settings:q} --out {output} > {log} 2>&1"
