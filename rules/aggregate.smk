# Tables and figures from the score store only: a reviewer rebuilds one with
# `snakemake results/tables/<name>.csv` — no training, generation or GPU.


rule table:
    input:
        lambda w: table_inputs(w.experiment),
    output:
        csv=report(
            "results/tables/{experiment}.csv",
            caption="../workflow/report/table.rst",
            category="Tables",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "format": "CSV"},
        ),
        md="results/tables/{experiment}.md",
        tex="results/tables/{experiment}.tex",
    log:
        "results/logs/tables/{experiment}.log",
    benchmark:
        "results/benchmarks/tables/{experiment}.tsv"
    wildcard_constraints:
        experiment="|".join(table_names()) or "(?!)",
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(table_settings(w.experiment)),
        # the report's caption: the same words the table job writes (workflow/report/table.rst renders it)
        caption=lambda w: report_caption("table", w.experiment, table_settings(w.experiment)),
        runs=lambda w: " ".join(table_runs(w.experiment)),
        cells=lambda w: table_cells(w.experiment),
        code=code("debiaslab.aggregate.build"),
    shell:
        "debiaslab aggregate table --experiment {wildcards.experiment} --settings {params.settings:q}"
        " --scores {input} --runs {params.runs} {params.cells} --csv {output.csv} --md {output.md} --tex {output.tex}"
        " > {log} 2>&1"


rule figure:
    input:
        lambda w: table_inputs(FIGURES[w.name]),
    output:
        png=report(
            "results/figures/{name}.png",
            caption="../workflow/report/figure.rst",
            category="Figures",
            subcategory="{name}",
            labels={"figure": "{name}"},
        ),
        pdf="results/figures/{name}.pdf",
    log:
        "results/logs/figures/{name}.log",
    benchmark:
        "results/benchmarks/figures/{name}.tsv"
    wildcard_constraints:
        name=r"\w+",
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(table_settings(FIGURES[w.name])),
        caption=lambda w: report_caption("figure", w.name, table_settings(FIGURES[w.name])),
        runs=lambda w: " ".join(table_runs(FIGURES[w.name])),
        code=code("debiaslab.aggregate.build"),
    shell:
        "debiaslab aggregate figure --name {wildcards.name} --settings {params.settings:q}"
        " --scores {input} --runs {params.runs} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule bundle:
    input:
        lambda w: sorted({path for name in EXPERIMENTS for path in table_inputs(name) + evaluation_targets(name)}),
    output:
        "results/bundle.tar.gz",
    log:
        "results/logs/bundle.log",
    benchmark:
        "results/benchmarks/bundle.tsv"
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        # in the run's key order (not as_json's sorted keys): the config fixes e.g. the tables' method order
        config=lambda w: json.dumps(config, ensure_ascii=False, separators=(",", ":")),
        code=code("debiaslab.aggregate.bundle"),
    shell:
        "debiaslab bundle --scores {input} --config {params.config:q} --records --out {output} > {log} 2>&1"


rule reward_guided_curves:
    input:
        lambda w: reward_guided_trained_adapters(),
    output:
        png=report(
            "results/figures/reward_guided/training_curves.png",
            caption="../workflow/report/figure.rst",
            category="Figures",
            subcategory="reward_guided",
            labels={"figure": "reward_guided training curves"},
        ),
        csv="results/figures/reward_guided/training_curves.csv",
    log:
        "results/logs/figures/reward_guided/training_curves.log",
    benchmark:
        "results/benchmarks/figures/reward_guided/training_curves.tsv"
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        caption=report_caption("figure", "reward_guided_training_curves", {}),
        code=code("debiaslab.aggregate.reward_guided"),
    shell:
        "debiaslab aggregate curves --adapters {input} --png {output.png} --csv {output.csv} > {log} 2>&1"
