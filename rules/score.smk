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


rule score_safety:
    input:
        responses="results/generate/safety/{model}/{method}/seed~{seed}/responses.parquet",
        scorers=safety_scorer_inputs,
    output:
        scores="results/scores/safety/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/safety/{model}/{method}/seed~{seed}/records.parquet",
        source_json=safety_source_files("json"),
        source_parquet=safety_source_files("parquet"),
    params:
        settings=lambda w: as_json(safety_scoring()),
        code=code("debiaslab.metrics.response_scores"),
    threads: 1
    log:
        "results/logs/score/safety/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/safety/{model}/{method}/seed~{seed}.tsv"
    conda:
        "../envs/eval.yaml"
    shell:
        "debiaslab --threads {threads} score safety --responses {input.responses} --settings {params.settings:q}"
        " --run safety/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records}"
        " --out-dir results/scores/safety/{wildcards.model}/{wildcards.method}/seed~{wildcards.seed} > {log} 2>&1"
