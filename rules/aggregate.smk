# Tables from the score store only: a reviewer rebuilds one with `snakemake results/tables/<name>.csv`.


rule table:
    input:
        lambda w: table_inputs(w.experiment),
    output:
        csv="results/tables/{experiment}.csv",
        md="results/tables/{experiment}.md",
    params:
        settings=lambda w: as_json(
            experiment(w.experiment)["table"] | {"method_order": list(experiment(w.experiment)["methods"])}
        ),
        code=code("debiaslab.aggregate.build"),
    log:
        "results/logs/tables/{experiment}.log",
    benchmark:
        "results/benchmarks/tables/{experiment}.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab aggregate table --experiment {wildcards.experiment} --settings {params.settings:q}"
        " --scores {input} --csv {output.csv} --md {output.md} > {log} 2>&1"


rule reward_guided_curves:
    input:
        lambda w: reward_guided_trained_adapters(),
    output:
        png="results/figures/reward_guided/training_curves.png",
        csv="results/figures/reward_guided/training_curves.csv",
    params:
        code=code("debiaslab.aggregate.reward_guided"),
    log:
        "results/logs/figures/reward_guided/training_curves.log",
    benchmark:
        "results/benchmarks/figures/reward_guided/training_curves.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab aggregate curves --adapters {input} --png {output.png} --csv {output.csv} > {log} 2>&1"
