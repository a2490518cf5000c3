# Tables and figures from the score store only: a reviewer rebuilds one with
# `snakemake results/<name>/tables/<table>.csv` — no training, generation or GPU.


rule table:
    input:
        lambda w: table_inputs(w.experiment),
    output:
        csv=report(
            R("tables/{experiment}.csv"),
            caption="../workflow/report/table.rst",
            category="Tables",
            subcategory="{experiment}",
            labels={"experiment": "{experiment}", "format": "CSV"},
        ),
        md=R("tables/{experiment}.md"),
        tex=R("tables/{experiment}.tex"),
    log:
        R("logs/tables/{experiment}.log"),
    benchmark:
        R("benchmarks/tables/{experiment}.tsv")
    wildcard_constraints:
        experiment="|".join(table_names()) or "(?!)",
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(table_settings(w.experiment)),
        # the report's caption: the same words the table job writes (workflow/report/table.rst renders it)
        caption=lambda w: table_caption_rst(w.experiment),
        runs=lambda w: " ".join(table_runs(w.experiment)),
        cells=lambda w: table_cells(w.experiment),
        source=config["name"],
        code=lambda w: code("debiaslab.aggregate.build", *table_modules(w.experiment)),
    shell:
        "debiaslab aggregate table --experiment {wildcards.experiment} --settings {params.settings:q}"
        " --scores {input} --runs {params.runs} {params.cells} --source {params.source}"
        " --csv {output.csv} --md {output.md} --tex {output.tex} > {log} 2>&1"


rule figure:
    input:
        lambda w: table_inputs(FIGURES[w.name]),
    output:
        png=report(
            R("figures/{name}.png"),
            caption="../workflow/report/figure.rst",
            category="Figures",
            subcategory="{name}",
            labels={"figure": "{name}"},
        ),
        pdf=R("figures/{name}.pdf"),
    log:
        R("logs/figures/{name}.log"),
    benchmark:
        R("benchmarks/figures/{name}.tsv")
    wildcard_constraints:
        name="|".join(FIGURES) or "(?!)",
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=lambda w: as_json(table_settings(FIGURES[w.name])),
        caption=lambda w: figure_caption_rst(w.name),
        runs=lambda w: " ".join(table_runs(FIGURES[w.name])),
        code=lambda w: code("debiaslab.aggregate.build", *figure_modules(w.name)),
    shell:
        "debiaslab aggregate figure --name {wildcards.name} --settings {params.settings:q}"
        " --scores {input} --runs {params.runs} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule bundle:
    input:
        lambda w: sorted({path for name in EXPERIMENTS for path in table_inputs(name) + evaluation_targets(name)}),
    output:
        R("bundle.tar.gz"),
    log:
        R("logs/bundle.log"),
    benchmark:
        R("benchmarks/bundle.tsv")
    priority: PRIORITY["aggregate"]
    conda:
        "../envs/aggregate.yaml"
    params:
        # in the run's key order (not as_json's sorted keys): the config fixes e.g. the tables' method order
        config=lambda w: json.dumps(config, ensure_ascii=False, separators=(",", ":")),
        code=code("debiaslab.aggregate.bundle"),
    shell:
        "debiaslab bundle --scores {input} --config {params.config:q} --records --out {output} > {log} 2>&1"


# Figures from trained artifacts (reward_guided's training curves): one rule per experiment and figure
# (loop values reach the command through params: `shell:` is evaluated when the job runs, after the loop).
for (_name, _figure), _outputs in TRAINED_FIGURES.items():

    rule:
        name:
            f"{_name}_{_figure}"
        input:
            trained_artifacts(_name),
        output:
            png=report(
                _outputs["png"],
                caption="../workflow/report/figure.rst",
                category="Figures",
                subcategory=_name,
                labels={"figure": f"{_name} {_figure.replace('_', ' ')}"},
            ),
            csv=_outputs["csv"],
        log:
            R("logs", "figures", _name, f"{_figure}.log"),
        benchmark:
            R("benchmarks", "figures", _name, f"{_figure}.tsv")
        priority: PRIORITY["aggregate"]
        conda:
            "../envs/aggregate.yaml"
        params:
            experiment=_name,
            figure=_figure,
            caption=figure_caption_rst(_figure, _name),
            code=code(module_of(EXP[_name].figures[_figure].entry)),
        shell:
            "debiaslab aggregate trained-figure --experiment {params.experiment} --name {params.figure}"
            " --artifacts {input} --png {output.png} --csv {output.csv} > {log} 2>&1"
