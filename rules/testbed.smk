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


rule testbed_arithmetic:
    output:
        directory("results/testbed/arithmetic"),
    params:
        settings=lambda w: as_json({"seed": config["testbed"]["seed"]} | config["testbed"]["arithmetic"]),
        code=code("debiaslab.testbed.arithmetic"),
    log:
        "results/logs/testbed/arithmetic.log",
    benchmark:
        "results/benchmarks/testbed/arithmetic.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab testbed arithmetic --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_style_rm:
    input:
        dataset="results/testbed/arithmetic",
        tokenizers="results/testbed/tokenizers",
    output:
        directory("results/testbed/style_rm"),
    params:
        settings=lambda w: as_json(config["testbed"]["style_rm"]),
        code=code("debiaslab.testbed.style_rm"),
    threads: 1
    log:
        "results/logs/testbed/style_rm.log",
    benchmark:
        "results/benchmarks/testbed/style_rm.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} testbed style-rm --dataset {input.dataset} --tokenizers {input.tokenizers}"
        " --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_mmlu:
    output:
        directory("results/testbed/mmlu"),
    params:
        code=code("debiaslab.testbed.mmlu"),
    log:
        "results/logs/testbed/mmlu.log",
    benchmark:
        "results/benchmarks/testbed/mmlu.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab testbed mmlu --out {output} > {log} 2>&1"


rule testbed_glue:
    output:
        directory("results/testbed/glue"),
    params:
        settings=lambda w: as_json({"seed": config["testbed"]["seed"]} | config["testbed"]["glue"]),
        code=code("debiaslab.testbed.glue"),
    log:
        "results/logs/testbed/glue.log",
    benchmark:
        "results/benchmarks/testbed/glue.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab testbed glue --settings {params.settings:q} --out {output} > {log} 2>&1"
