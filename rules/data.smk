# Training data and prompt sets, one job per (experiment, method, seed) so editing one
# method's data settings never rewrites another method's data.



rule occupations_sft_data:
    output:
        "results/data/occupations/sft/seed~{seed}/train.parquet",
    params:
        settings=lambda w: as_json(occupations_split() | experiment("occupations")["methods"]["sft"]["data"]),
        code=code("debiaslab.data.occupations"),
    log:
        "results/logs/data/occupations/sft/seed~{seed}.log",
    benchmark:
        "results/benchmarks/data/occupations/sft/seed~{seed}.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab data occupations sft --settings {params.settings:q} --seed {wildcards.seed} --out {output} > {log} 2>&1"


rule occupations_prompts:
    output:
        "results/data/occupations/prompts.parquet",
    params:
        settings=lambda w: as_json(
            occupations_split()
            | {"samples_per_occupation": experiment("occupations")["generation"]["samples_per_occupation"]}
        ),
        code=code("debiaslab.data.occupations"),
    log:
        "results/logs/data/occupations/prompts.log",
    benchmark:
        "results/benchmarks/data/occupations/prompts.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab data occupations prompts --settings {params.settings:q} --out {output} > {log} 2>&1"


rule desired_distribution_sentences:
    output:
        "results/data/desired_distribution/sentences.parquet",
    params:
        settings=lambda w: as_json(experiment("desired_distribution")["data"]),
        code=code("debiaslab.data.desired_distribution"),
    log:
        "results/logs/data/desired_distribution/sentences.log",
    benchmark:
        "results/benchmarks/data/desired_distribution/sentences.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab data desired_distribution --settings {params.settings:q} --out {output} > {log} 2>&1"
