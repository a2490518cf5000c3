# The offline testbed: planted-bias corpus, tokenizers, tiny causal LM and masked LM (Hub format).


rule testbed_corpus:
    output:
        R.testbed("corpus.parquet"),
    log:
        R("logs/testbed/corpus.log"),
    benchmark:
        R("benchmarks/testbed/corpus.tsv")
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json({k: config["testbed"][k] for k in ("seed", "bias_strength", "corpus")}),
        # the corpus writer, the shared sections and every experiment's own (debiaslab/experiments/registry.py)
        code=code(
            "debiaslab.testbed.corpus",
            "debiaslab.testbed.sections",
            *sorted({module_of(entry) for entry in registry.testbed_sections().values()}),
        ),
    shell:
        "debiaslab testbed corpus --settings {params.settings:q} --out {output} > {log} 2>&1"


rule testbed_tokenizers:
    input:
        corpus=R.testbed("corpus.parquet"),
    output:
        directory(R.testbed("tokenizers")),
    log:
        R("logs/testbed/tokenizers.log"),
    benchmark:
        R("benchmarks/testbed/tokenizers.tsv")
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
        corpus=R.testbed("corpus.parquet"),
        tokenizers=R.testbed("tokenizers"),
    output:
        directory(R.testbed("{kind}")),
    log:
        R("logs/testbed/pretrain_{kind}.log"),
    benchmark:
        R("benchmarks/testbed/pretrain_{kind}.tsv")
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
        directory(R.testbed("arithmetic")),
    log:
        R("logs/testbed/arithmetic.log"),
    benchmark:
        R("benchmarks/testbed/arithmetic.tsv")
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
        dataset=R.testbed("arithmetic"),
        tokenizers=R.testbed("tokenizers"),
    output:
        directory(R.testbed("style_rm")),
    log:
        R("logs/testbed/style_rm.log"),
    benchmark:
        R("benchmarks/testbed/style_rm.tsv")
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
        directory(R.testbed("mmlu")),
    log:
        R("logs/testbed/mmlu.log"),
    benchmark:
        R("benchmarks/testbed/mmlu.tsv")
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        code=code("debiaslab.testbed.mmlu"),
    shell:
        "debiaslab testbed mmlu --out {output} > {log} 2>&1"


rule testbed_glue:
    output:
        directory(R.testbed("glue")),
    log:
        R("logs/testbed/glue.log"),
    benchmark:
        R("benchmarks/testbed/glue.tsv")
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
        R.testbed("bias_suite/occupations/bbq.jsonl"),
        directory(R.testbed("bias_suite/occupations/winogender")),
        R.testbed("bias_suite/occupations/stereoset.jsonl"),
        R.testbed("bias_suite/occupations/crows_pairs.csv"),
        R.testbed("bias_suite/desired_distribution/stereoset.jsonl"),
        R.testbed("bias_suite/desired_distribution/crows_pairs.csv"),
    log:
        R("logs/testbed/bias_suite.log"),
    benchmark:
        R("benchmarks/testbed/bias_suite.tsv")
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json({"bias_strength": config["testbed"]["bias_strength"]}),
        out=lambda w, output: os.path.commonpath(list(output)),  # the folder of its outputs
        code=code("debiaslab.testbed.bias_suite"),
    shell:
        "debiaslab testbed bias-suite --settings {params.settings:q} --out {params.out} > {log} 2>&1"


rule testbed_safety_data:
    output:
        R.testbed("safety/hh-rlhf.jsonl"),
        R.testbed("safety/biased-corpus.jsonl"),
        classifier=R.testbed("safety/classifier.jsonl"),
        preferences=R.testbed("safety/preferences.jsonl"),
    log:
        R("logs/testbed/safety_data.log"),
    benchmark:
        R("benchmarks/testbed/safety_data.tsv")
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    params:
        settings=lambda w: as_json(
            {"seed": config["testbed"]["seed"]}
            | {k: config["testbed"]["safety"][k] for k in ("dialogues", "preference_pairs")}
        ),
        out=lambda w, output: os.path.commonpath(list(output)),  # the folder of its outputs
        code=code("debiaslab.testbed.safety"),
    shell:
        "debiaslab testbed safety-data --settings {params.settings:q} --out {params.out} > {log} 2>&1"


rule testbed_bias_classifier:
    input:
        base=R.testbed("mlm"),
        data=R.testbed("safety/classifier.jsonl"),
    output:
        directory(R.testbed("bias_classifier")),
    log:
        R("logs/testbed/bias_classifier.log"),
    benchmark:
        R("benchmarks/testbed/bias_classifier.tsv")
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
        base=R.testbed("mlm"),
        data=R.testbed("safety/preferences.jsonl"),
    output:
        directory(R.testbed("reward_model")),
    log:
        R("logs/testbed/reward_model.log"),
    benchmark:
        R("benchmarks/testbed/reward_model.tsv")
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
        corpus=R.testbed("corpus.parquet"),
        tokenizers=R.testbed("tokenizers"),
    output:
        directory(R.testbed("desired_distribution_mlm")),
    log:
        R("logs/testbed/desired_distribution_mlm.log"),
    benchmark:
        R("benchmarks/testbed/desired_distribution_mlm.tsv")
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
