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


rule figure_rm_forget:
    input:
        lambda w: table_inputs("rm_forget"),
    output:
        png="results/figures/rm_forget/lambda_curve.png",
        pdf="results/figures/rm_forget/lambda_curve.pdf",
    params:
        settings=lambda w: as_json(table_settings("rm_forget")),
        code=code("debiaslab.aggregate.build"),
    log:
        "results/logs/figures/rm_forget.log",
    benchmark:
        "results/benchmarks/figures/rm_forget.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab aggregate figure --experiment rm_forget --settings {params.settings:q}"
        " --scores {input} --png {output.png} --pdf {output.pdf} > {log} 2>&1"
