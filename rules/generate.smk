# Generation: one job per (experiment, model, method, seed) that samples every prompt of the experiment
# (the experiments with `prompts`); a decoding-time method decodes with its module and the experiment's
# criterion for it.


rule generate:
    input:
        unpack(method_artifact),
        prompts=lambda w: SETUP[w.experiment].data(EXP[w.experiment].prompts),
        model=lambda w: model_input(w.model),
    output:
        R("generate/{experiment}/{model}/{method}/seed~{seed}/responses.parquet"),
    log:
        R("logs/generate/{experiment}/{model}/{method}/seed~{seed}.log"),
    benchmark:
        R("benchmarks/generate/{experiment}/{model}/{method}/seed~{seed}.tsv")
    wildcard_constraints:
        experiment="|".join(name for name in EXPERIMENTS if EXP[name].prompts) or "(?!)",
    priority: PRIORITY["generate"]
    conda:
        "../envs/eval.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        artifacts=artifact_flags,
        method_settings=lambda w: as_json(decoding_settings(w)),
        settings=lambda w: as_json(
            {k: v for k, v in experiment(w.experiment)["generation"].items() if k in GENERATION_KEYS}
        ),
        code=lambda w: generation_code(w.experiment, w.method),
    shell:
        "debiaslab --threads {threads} generate --model {params.model:q} {params.artifacts} --prompts {input.prompts}"
        " --experiment {wildcards.experiment} --method {wildcards.method} --method-settings {params.method_settings:q}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} > {log} 2>&1"
