# Training: one job per (experiment, model, method, seed). Checkpoints go under
# results/checkpoints/ (not a declared output) so a killed or preempted job resumes.


rule train_sft:
    input:
        unpack(lambda w: {"data": f"results/data/{w.experiment}/sft/seed~{w.seed}/train.parquet", "model": model_input(w.model)}),
    output:
        directory("results/train/{experiment}/{model}/sft/seed~{seed}/adapter"),
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment(w.experiment)["methods"]["sft"]["train"]),
        checkpoints="results/checkpoints/train/{experiment}/{model}/sft/seed~{seed}",
        code=code("debiaslab.methods.train", "debiaslab.methods.sft"),
    threads: 1
    log:
        "results/logs/train/{experiment}/{model}/sft/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{model}/sft/seed~{seed}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} train --method sft --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


rule train_dpo:
    input:
        unpack(lambda w: {"data": f"results/data/{w.experiment}/dpo/seed~{w.seed}/train.parquet", "model": model_input(w.model)}),
    output:
        directory("results/train/{experiment}/{model}/dpo/seed~{seed}/adapter"),
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment(w.experiment)["methods"]["dpo"]["train"]),
        checkpoints="results/checkpoints/train/{experiment}/{model}/dpo/seed~{seed}",
        code=code("debiaslab.methods.train", "debiaslab.methods.dpo"),
    threads: 1
    log:
        "results/logs/train/{experiment}/{model}/dpo/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{model}/dpo/seed~{seed}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} train --method dpo --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


# desired_distribution: masked LMs are fully fine-tuned (a complete Hub-format model folder),
# causal LMs get a LoRA adapter folder; the scoring job tells them apart by adapter_config.json.
rule train_desired_kl:
    input:
        unpack(lambda w: {"data": "results/data/desired_distribution/sentences.parquet", "model": model_input(w.model)}),
    output:
        directory("results/train/desired_distribution/{model}/{method}/seed~{seed}/model"),
    wildcard_constraints:
        method="kl_equal|kl_real_world",
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment("desired_distribution")["methods"][w.method]["train"]),
        checkpoints="results/checkpoints/train/desired_distribution/{model}/{method}/seed~{seed}",
        code=code("debiaslab.methods.train", "debiaslab.methods.desired_kl"),
    threads: 1
    log:
        "results/logs/train/desired_distribution/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/desired_distribution/{model}/{method}/seed~{seed}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} train --method {wildcards.method} --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"
