# Scoring: one rule per configured experiment (`score_<experiment>`, from its `scoring`), one job per run;
# every job writes tidy score-store rows (<root>/scores/...) plus per-item records. (Loop-dependent values
# reach the command through `params`: a rule's `shell:` is evaluated when its job runs, after the loop.)

for _name in EXPERIMENTS:
    _scoring = EXP[_name].scoring
    _loads_models = _scoring.model or bool(_scoring.models(SETUP[_name]))
    _extra = [R.run("scores", _name, "{model}", "{method}", "{seed}", f) for f in _scoring.outputs(SETUP[_name])]

    rule:
        name:
            f"score_{_name}"
        input:
            unpack(score_inputs(_name)),
        output:
            # scores first: a job is named by its first output; then the records and any further files
            **{
                "scores": R.run("scores", _name, "{model}", "{method}", "{seed}", "scores.parquet"),
                "records": R.run("scores", _name, "{model}", "{method}", "{seed}", "records.parquet"),
            }
            | ({"extra": _extra} if _extra else {}),
        log:
            R.run("logs/score", _name, "{model}", "{method}", "{seed}") + ".log",
        benchmark:
            R.run("benchmarks/score", _name, "{model}", "{method}", "{seed}") + ".tsv"
        priority: PRIORITY["score"]
        localrule: not _loads_models
        conda:
            "../envs/eval.yaml" if _loads_models else "../envs/aggregate.yaml"
        threads: 1
        resources:
            **(GENERATE_RESOURCES if _scoring.model else {}),
        params:
            experiment=_name,
            run=score_params(_name, "run"),
            model=score_params(_name, "model"),
            settings=score_params(_name, "settings"),
            inputs=score_params(_name, "inputs"),
            arguments=score_params(_name, "arguments"),
            code=code(module_of(_scoring.entry)),
        shell:
            "debiaslab --threads {threads} score run --experiment {params.experiment} --run {params.run}"
            " --settings {params.settings:q} --inputs {params.inputs:q} --arguments {params.arguments:q}{params.model}"
            " --scores {output.scores} --records {output.records} > {log} 2>&1"
