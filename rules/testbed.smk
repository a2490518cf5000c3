# The offline testbed: planted-bias corpus, tokenizers, tiny causal LM and masked LM (Hub format).


rule testbed_corpus:
    output:
        "results/testbed/corpus.parquet",
    params:
        settings=lambda w: as_json({k: config["testbed"][k] for k in ("seed", "bias_strength", "corpus")}),
        code=code("debiaslab.testbed.corpus"),
    log:
        "results/logs/testbed/corpus.log",
    benchmark:
        "results/benchmarks/testbed/corpus.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab testbed corpus --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_tokenizers:
    input:
        corpus="results/testbed/corpus.parquet",
    output:
        directory("results/testbed/tokenizers"),
    params:
        settings=lambda w: as_json(config["testbed"]["tokenizer"]),
        code=code("debiaslab.testbed.tokenizer"),
    log:
        "results/logs/testbed/tokenizers.log",
    benchmark:
        "results/benchmarks/testbed/tokenizers.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab testbed tokenizers --corpus {input.corpus} --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_pretrain:
    input:
        corpus="results/testbed/corpus.parquet",
        tokenizers="results/testbed/tokenizers",
    output:
        directory("results/testbed/{kind}"),
    wildcard_constraints:
        kind="lm|mlm",
    params:
        kind=lambda w: {"lm": "causal", "mlm": "mlm"}[w.kind],
        settings=lambda w: as_json(config["testbed"][w.kind]),
        code=code("debiaslab.testbed.pretrain"),
    threads: 1
    log:
        "results/logs/testbed/pretrain_{kind}.log",
    benchmark:
        "results/benchmarks/testbed/pretrain_{kind}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} testbed pretrain --kind {params.kind} --corpus {input.corpus}"
        " --tokenizers {input.tokenizers} --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_desired_distribution_mlm:
    input:
        corpus="results/testbed/corpus.parquet",
        tokenizers="results/testbed/tokenizers",
    output:
        directory("results/testbed/desired_distribution_mlm"),
    params:
        settings=lambda w: as_json(config["testbed"]["desired_distribution_mlm"]),
        code=code("debiaslab.testbed.desired_distribution", "debiaslab.testbed.pretrain"),
    threads: 1
    log:
        "results/logs/testbed/desired_distribution_mlm.log",
    benchmark:
        "results/benchmarks/testbed/desired_distribution_mlm.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} testbed desired-distribution-mlm --corpus {input.corpus}"
        " --tokenizers {input.tokenizers} --settings {params.settings:q} --out {output} > {log} 2>&1"
