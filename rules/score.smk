# Scoring: every job writes tidy score-store rows (results/scores/...) plus per-response records.


rule score_occupations:
    input:
        responses="results/generate/occupations/{model}/{method}/seed~{seed}/responses.parquet",
    output:
        scores="results/scores/occupations/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/occupations/{model}/{method}/seed~{seed}/records.parquet",
    log:
        "results/logs/score/occupations/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/occupations/{model}/{method}/seed~{seed}.tsv"
    priority: PRIORITY["score"]
    conda:
        "../envs/aggregate.yaml"
    params:
        settings=as_json({"min_words": 8, "max_words": 15}),
        code=code("debiaslab.metrics.score"),
    shell:
        "debiaslab score balance --responses {input.responses} --settings {params.settings:q}"
        " --run occupations/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"


# reward_guided: one job per (model, method, seed) samples the held-out MCQ prompts for every grid cell
# of the run (the base: each temperature), then scores GenBit, pronoun rates, KL to base and the reward.
rule score_reward_guided:
    input:
        unpack(reward_guided_score_inputs),
    output:
        scores="results/scores/reward_guided/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/reward_guided/{model}/{method}/seed~{seed}/records.parquet",
    log:
        "results/logs/score/reward_guided/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/reward_guided/{model}/{method}/seed~{seed}.tsv"
    priority: PRIORITY["score"]
    conda:
        "../envs/eval.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        cells=lambda w: as_json(reward_guided_score_cells(w)),
        settings=lambda w: as_json(reward_guided_score_settings(w)),
        code=code("debiaslab.metrics.reward_guided"),
    shell:
        "debiaslab --threads {threads} score reward-guided --model {params.model:q} --pool {input.pool}"
        " --cells {params.cells:q} --settings {params.settings:q}"
        " --run reward_guided/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"


rule score_rm_forget:
    input:
        adapter="results/train/rm_forget/{model}/forget_{mode}/seed~{seed}/adapter",
        rmbench="results/data/rm_forget/rmbench_items.parquet",
        model=lambda w: model_input(w.model),
    output:
        scores="results/scores/rm_forget/{model}/forget_{mode}/seed~{seed}/scores.parquet",
        records="results/scores/rm_forget/{model}/forget_{mode}/seed~{seed}/records.parquet",
    log:
        "results/logs/score/rm_forget/{model}/forget_{mode}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/rm_forget/{model}/forget_{mode}/seed~{seed}.tsv"
    wildcard_constraints:
        mode="style|correctness|cross",
    priority: PRIORITY["score"]
    conda:
        "../envs/eval.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=rm_sweep_settings,
        code=code("debiaslab.metrics.rm_sweep"),
    shell:
        "debiaslab --threads {threads} score rm-sweep --model {params.model:q} --adapter {input.adapter}"
        " --items {input.rmbench} --settings {params.settings:q}"
        " --run rm_forget/{wildcards.model}/forget_{wildcards.mode}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"


rule score_safety:
    input:
        responses="results/generate/safety/{model}/{method}/seed~{seed}/responses.parquet",
        scorers=safety_scorer_inputs,
    output:
        scores="results/scores/safety/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/safety/{model}/{method}/seed~{seed}/records.parquet",
        source_json=safety_source_files("json"),
        source_parquet=safety_source_files("parquet"),
    log:
        "results/logs/score/safety/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/safety/{model}/{method}/seed~{seed}.tsv"
    priority: PRIORITY["score"]
    conda:
        "../envs/eval.yaml"
    threads: 1
    params:
        settings=lambda w: as_json(safety_scoring()),
        code=code("debiaslab.metrics.response_scores"),
    shell:
        "debiaslab --threads {threads} score safety --responses {input.responses} --settings {params.settings:q}"
        " --run safety/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records}"
        " --out-dir results/scores/safety/{wildcards.model}/{wildcards.method}/seed~{wildcards.seed} > {log} 2>&1"


# desired_distribution: one job per run loads the model once and scores every detection split (the
# utility columns come from the experiment's `evaluations`, rules/evaluate.smk).
rule score_desired_distribution:
    input:
        unpack(desired_distribution_score_input),
    output:
        scores="results/scores/desired_distribution/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/desired_distribution/{model}/{method}/seed~{seed}/records.parquet",
    log:
        "results/logs/score/desired_distribution/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/desired_distribution/{model}/{method}/seed~{seed}.tsv"
    priority: PRIORITY["score"]
    conda:
        "../envs/eval.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        trained=lambda w, input: f"--trained {input.trained}" if "trained" in input.keys() else "",
        settings=lambda w: as_json(experiment("desired_distribution")["evaluation"]),
        code=code("debiaslab.metrics.desired_distribution"),
    shell:
        "debiaslab --threads {threads} score desired-distribution --model {params.model:q} {params.trained}"
        " --sentences {input.sentences} --settings {params.settings:q}"
        " --run desired_distribution/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"
