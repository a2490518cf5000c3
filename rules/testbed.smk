# The offline testbed: planted-bias corpus, tokenizers, tiny causal LM and masked LM (Hub format).


rule testbed_corpus:
    output:
        "results/testbed/corpus.parquet",
    log:
        "results/logs/testbed/corpus.log",
    benchmark:
        "results/benchmarks/testbed/corpus.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json({k: config["testbed"][k] for k in ("seed", "bias_strength", "corpus")}),
        code=code("debiaslab.testbed.corpus", "debiaslab.testbed.sections"),
    shell:
        "debiaslab testbed corpus --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_tokenizers:
    input:
        corpus="results/testbed/corpus.parquet",
    output:
        directory("results/testbed/tokenizers"),
    log:
        "results/logs/testbed/tokenizers.log",
    benchmark:
        "results/benchmarks/testbed/tokenizers.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json(config["testbed"]["tokenizer"]),
        code=code("debiaslab.testbed.tokenizer"),
    shell:
        "debiaslab testbed tokenizers --corpus {input.corpus} --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_pretrain:
    input:
        corpus="results/testbed/corpus.parquet",
        tokenizers="results/testbed/tokenizers",
    output:
        directory("results/testbed/{kind}"),
    log:
        "results/logs/testbed/pretrain_{kind}.log",
    benchmark:
        "results/benchmarks/testbed/pretrain_{kind}.tsv"
    wildcard_constraints:
        kind="lm|mlm",
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        kind=lambda w: {"lm": "causal", "mlm": "mlm"}[w.kind],
        settings=lambda w: as_json(config["testbed"][w.kind]),
        code=code("debiaslab.testbed.pretrain"),
    shell:
        "debiaslab --threads {threads} testbed pretrain --kind {params.kind} --corpus {input.corpus}"
        " --tokenizers {input.tokenizers} --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_arithmetic:
    output:
        directory("results/testbed/arithmetic"),
    log:
        "results/logs/testbed/arithmetic.log",
    benchmark:
        "results/benchmarks/testbed/arithmetic.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json({"seed": config["testbed"]["seed"]} | config["testbed"]["arithmetic"]),
        code=code("debiaslab.testbed.arithmetic"),
    shell:
        "debiaslab testbed arithmetic --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_style_rm:
    input:
        dataset="results/testbed/arithmetic",
        tokenizers="results/testbed/tokenizers",
    output:
        directory("results/testbed/style_rm"),
    log:
        "results/logs/testbed/style_rm.log",
    benchmark:
        "results/benchmarks/testbed/style_rm.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        settings=lambda w: as_json(config["testbed"]["style_rm"]),
        code=code("debiaslab.testbed.style_rm"),
    shell:
        "debiaslab --threads {threads} testbed style-rm --dataset {input.dataset} --tokenizers {input.tokenizers}"
        " --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_mmlu:
    output:
        directory("results/testbed/mmlu"),
    log:
        "results/logs/testbed/mmlu.log",
    benchmark:
        "results/benchmarks/testbed/mmlu.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        code=code("debiaslab.testbed.mmlu"),
    shell:
        "debiaslab testbed mmlu --out {output} > {log} 2>&1"


rule testbed_glue:
    output:
        directory("results/testbed/glue"),
    log:
        "results/logs/testbed/glue.log",
    benchmark:
        "results/benchmarks/testbed/glue.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json({"seed": config["testbed"]["seed"]} | config["testbed"]["glue"]),
        code=code("debiaslab.testbed.glue"),
    shell:
        "debiaslab testbed glue --settings {params.settings:q} --out {output} > {log} 2>&1"


# Testbed-format BBQ / WinoGender / StereoSet / CrowS-Pairs sets over what the testbed models already
# know (no corpus section): the bias suite's default data (testbed/bias_suite.py).
rule testbed_bias_suite:
    output:
        "results/testbed/bias_suite/occupations/bbq.jsonl",
        directory("results/testbed/bias_suite/occupations/winogender"),
        "results/testbed/bias_suite/occupations/stereoset.jsonl",
        "results/testbed/bias_suite/occupations/crows_pairs.csv",
        "results/testbed/bias_suite/desired_distribution/stereoset.jsonl",
        "results/testbed/bias_suite/desired_distribution/crows_pairs.csv",
    log:
        "results/logs/testbed/bias_suite.log",
    benchmark:
        "results/benchmarks/testbed/bias_suite.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json({"bias_strength": config["testbed"]["bias_strength"]}),
        code=code("debiaslab.testbed.bias_suite"),
    shell:
        "debiaslab testbed bias-suite --settings {params.settings:q} --out results/testbed/bias_suite > {log} 2>&1"


rule testbed_safety_data:
    output:
        "results/testbed/safety/hh-rlhf.jsonl",
        "results/testbed/safety/biased-corpus.jsonl",
        classifier="results/testbed/safety/classifier.jsonl",
        preferences="results/testbed/safety/preferences.jsonl",
    log:
        "results/logs/testbed/safety_data.log",
    benchmark:
        "results/benchmarks/testbed/safety_data.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json(
            {"seed": config["testbed"]["seed"]}
            | {k: config["testbed"]["safety"][k] for k in ("dialogues", "preference_pairs")}
        ),
        code=code("debiaslab.testbed.safety"),
    shell:
        "debiaslab testbed safety-data --settings {params.settings:q} --out results/testbed/safety > {log} 2>&1"


rule testbed_bias_classifier:
    input:
        base="results/testbed/mlm",
        data="results/testbed/safety/classifier.jsonl",
    output:
        directory("results/testbed/bias_classifier"),
    log:
        "results/logs/testbed/bias_classifier.log",
    benchmark:
        "results/benchmarks/testbed/bias_classifier.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        settings=lambda w: as_json(config["testbed"]["safety"]["bias_classifier"]),
        code=code("debiaslab.testbed.scorers"),
    shell:
        "debiaslab --threads {threads} testbed scorer --kind classifier --base {input.base} --data {input.data}"
        " --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_reward_model:
    input:
        base="results/testbed/mlm",
        data="results/testbed/safety/preferences.jsonl",
    output:
        directory("results/testbed/reward_model"),
    log:
        "results/logs/testbed/reward_model.log",
    benchmark:
        "results/benchmarks/testbed/reward_model.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        settings=lambda w: as_json(config["testbed"]["safety"]["reward_model"]),
        code=code("debiaslab.testbed.scorers"),
    shell:
        "debiaslab --threads {threads} testbed scorer --kind reward_model --base {input.base} --data {input.data}"
        " --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_desired_distribution_mlm:
    input:
        corpus="results/testbed/corpus.parquet",
        tokenizers="results/testbed/tokenizers",
    output:
        directory("results/testbed/desired_distribution_mlm"),
    log:
        "results/logs/testbed/desired_distribution_mlm.log",
    benchmark:
        "results/benchmarks/testbed/desired_distribution_mlm.tsv"
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    threads: 1
    params:
        settings=lambda w: as_json(config["testbed"]["desired_distribution_mlm"]),
        code=code("debiaslab.testbed.desired_distribution_mlm"),
    shell:
        "debiaslab --threads {threads} testbed desired-distribution-mlm --corpus {input.corpus}"
        " --tokenizers {input.tokenizers} --settings {params.settings:q} --out {output} > {log} 2>&1"
