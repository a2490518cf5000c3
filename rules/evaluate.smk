# Evaluations (evals/): capability and bias scores of every run, into the score store next to its
# scores.parquet as eval_<name>.parquet; the experiment's table reads them (table_inputs). A run of grid
# cells (reward_guided) is evaluated once per cell (its adapters), each cell's rows labelled like its scores.
# Which evaluations exist and how each runs: debiaslab/evals/registry.py.


rule evaluate:
    input:
        unpack(evaluation_artifacts),
        model=lambda w: model_input(w.model),
        data=evaluation_data,
    output:
        R("scores/{experiment}/{model}/{method}/seed~{seed}/eval_{evaluation}.parquet"),
    log:
        R("logs/evaluate/{experiment}/{model}/{method}/seed~{seed}/{evaluation}.log"),
    benchmark:
        R("benchmarks/evaluate/{experiment}/{model}/{method}/seed~{seed}/{evaluation}.tsv")
    wildcard_constraints:
        evaluation="|".join(MODEL_EVALUATIONS),
    priority: PRIORITY["evaluate"]
    conda:
        "../envs/eval.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        artifacts=evaluation_flags,
        settings=lambda w: as_json(evaluation_settings(w)),
        code=lambda w: code(EVALUATIONS[w.evaluation].module),
    shell:
        "debiaslab --threads {threads} evaluate model --evaluation {wildcards.evaluation} --model {params.model:q}"
        " {params.artifacts} --settings {params.settings:q}"
        " --run {wildcards.experiment}/{wildcards.model}/{wildcards.method}/{wildcards.seed} --out {output} > {log} 2>&1"


# lm-evaluation-harness (pip install 'debiaslab[lmeval]'); offline it needs tasks with local data
# (evaluations.lm_eval.include_path; `packaged` holds testbed_mmlu).
rule lm_eval:
    input:
        unpack(method_artifact),
        model=lambda w: model_input(w.model),
        data=lambda w: evaluation_inputs(w.experiment, "lm_eval"),
    output:
        json=R("lm_eval/{experiment}/{model}/{method}/seed~{seed}/results.json"),
        scores=R("scores/{experiment}/{model}/{method}/seed~{seed}/eval_lm_eval.parquet"),
    log:
        R("logs/evaluate/{experiment}/{model}/{method}/seed~{seed}/lm_eval.log"),
    benchmark:
        R("benchmarks/evaluate/{experiment}/{model}/{method}/seed~{seed}/lm_eval.tsv")
    priority: PRIORITY["evaluate"]
    conda:
        "../envs/lmeval.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        artifacts=artifact_flags,
        settings=lambda w: as_json(evaluation_slice(w.experiment, "lm_eval")),
        code=code(EVALUATIONS["lm_eval"].module),
    shell:
        "debiaslab --threads {threads} evaluate lm-eval --model {params.model:q} {params.artifacts}"
        " --settings {params.settings:q} --run {wildcards.experiment}/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --json {output.json} --scores {output.scores} > {log} 2>&1"


# fluency: one job per experiment loads the reference LM once and scores every run's responses.
for _name in EXPERIMENTS:
    if "fluency" in evaluations(_name):

        rule:
            name:
                f"fluency_{_name}"
            input:
                responses=run_paths("generate", _name, "responses.parquet"),
                model=model_input(evaluations(_name)["fluency"]["reference"]),
            output:
                run_paths("scores", _name, "eval_fluency.parquet"),
            log:
                R("logs", "evaluate", _name, "fluency.log"),
            benchmark:
                R("benchmarks", "evaluate", _name, "fluency.tsv")
            priority: PRIORITY["evaluate"]
            conda:
                "../envs/eval.yaml"
            threads: 1
            params:
                reference=model_spec(evaluations(_name)["fluency"]["reference"]),
                settings=as_json(fluency_settings(_name)),
                runs=" ".join(run_ids(_name)),
                code=code(EVALUATIONS["fluency"].module),
            shell:
                "debiaslab --threads {threads} evaluate fluency --reference {params.reference:q}"
                " --settings {params.settings:q} --responses {input.responses} --runs {params.runs}"
                " --scores {output} > {log} 2>&1"
