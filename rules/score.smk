# Scoring: every job writes tidy score-store rows (results/scores/...) plus per-response records.


rule score_occupations:
    input:
        "results/generate/occupations/{model}/{method}/seed~{seed}/responses.parquet",
    output:
        scores="results/scores/occupations/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/occupations/{model}/{method}/seed~{seed}/records.parquet",
    params:
        settings=as_json({"min_words": 8, "max_words": 15}),
        code=code("debiaslab.metrics.score"),
    log:
        "results/logs/score/occupations/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/occupations/{model}/{method}/seed~{seed}.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab score balance --responses {input} --settings {params.settings:q}"
        " --run occupations/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"


rule score_desired_distribution:
    input:
        unpack(desired_distribution_score_input),
    output:
        scores="results/scores/desired_distribution/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/desired_distribution/{model}/{method}/seed~{seed}/records.parquet",
    params:
        model=lambda w: model_spec(w.model),
        trained=lambda w, input: f"--trained {input.trained}" if "trained" in input.keys() else "",
        settings=lambda w: as_json(experiment("desired_distribution")["evaluation"]),
        code=code("debiaslab.metrics.desired_distribution"),
    threads: 1
    log:
        "results/logs/score/desired_distribution/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/desired_distribution/{model}/{method}/seed~{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    shell:
        "debiaslab --threads {threads} score desired-distribution --model {params.model:q} {params.trained}"
        " --sentences {input.sentences} --settings {params.settings:q}"
        " --run desired_distribution/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"
