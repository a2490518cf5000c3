# Scoring: every job writes tidy score-store rows (results/scores/...) plus per-response records.


rule score_occupations:
    input:
        unpack(lambda w: baseline_records("occupations", w)),
        responses="results/generate/occupations/{model}/{method}/seed~{seed}/responses.parquet",
    output:
        scores="results/scores/occupations/{model}/{method}/seed~{seed}/scores.parquet",
        records="results/scores/occupations/{model}/{method}/seed~{seed}/records.parquet",
    params:
        settings=as_json({"min_words": 8, "max_words": 15}),
        baseline=lambda w, input: f"--baseline {input.baseline}" if "baseline" in input.keys() else "",
        code=code("debiaslab.metrics.score"),
    log:
        "results/logs/score/occupations/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/score/occupations/{model}/{method}/seed~{seed}.tsv"
    conda:
        "../envs/aggregate.yaml"
    shell:
        "debiaslab score balance --responses {input.responses} {params.baseline} --settings {params.settings:q}"
        " --run occupations/{wildcards.model}/{wildcards.method}/{wildcards.seed}"
        " --scores {output.scores} --records {output.records} > {log} 2>&1"
