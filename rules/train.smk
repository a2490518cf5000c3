# Training: one job per (experiment, model, method, seed). Checkpoints go under
# results/checkpoints/ (not a declared output) so a killed or preempted job resumes.
# Each training rule's resources are TRAIN_RESOURCES (memory and runtime scaled by model size and
# retry; the GPU count and partition come from the profile) and its command starts with
# params.launch (LAUNCH: `debiaslab`, or `accelerate launch` when the profile gives the job more than
# one GPU; rules/common.smk). LAUNCH is no config slice and no rerun trigger: Snakemake leaves
# params it cannot represent out of its params check, so moving a job to more GPUs retrains nothing.


rule train_sft:
    input:
        unpack(
            lambda w: {
                "data": f"results/data/{w.experiment}/sft/seed~{w.seed}/train.parquet",
                "model": model_input(w.model),
            }
        ),
    output:
        directory("results/train/{experiment}/{model}/sft/seed~{seed}/adapter"),
    log:
        "results/logs/train/{experiment}/{model}/sft/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{model}/sft/seed~{seed}.tsv"
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment(w.experiment)["methods"]["sft"]["train"]),
        checkpoints="results/checkpoints/train/{experiment}/{model}/sft/seed~{seed}",
        code=trainer_code("sft"),
        launch=LAUNCH,
    shell:
        "{params.launch:{resources.distributed},{resources.gpu}} --threads {threads} train --method sft --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


rule train_dpo:
    input:
        unpack(
            lambda w: {
                "data": f"results/data/{w.experiment}/dpo/seed~{w.seed}/train.parquet",
                "model": model_input(w.model),
            }
        ),
    output:
        directory("results/train/{experiment}/{model}/dpo/seed~{seed}/adapter"),
    log:
        "results/logs/train/{experiment}/{model}/dpo/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{model}/dpo/seed~{seed}.tsv"
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment(w.experiment)["methods"]["dpo"]["train"]),
        checkpoints="results/checkpoints/train/{experiment}/{model}/dpo/seed~{seed}",
        code=trainer_code("dpo"),
        launch=LAUNCH,
    shell:
        "{params.launch:{resources.distributed},{resources.gpu}} --threads {threads} train --method dpo --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


rule train_inlp:
    input:
        unpack(
            lambda w: {
                "data": f"results/data/{w.experiment}/inlp/seed~{w.seed}/train.parquet",
                "model": model_input(w.model),
            }
        ),
    output:
        directory("results/train/{experiment}/{model}/inlp/seed~{seed}/projection"),
    log:
        "results/logs/train/{experiment}/{model}/inlp/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/{experiment}/{model}/inlp/seed~{seed}.tsv"
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment(w.experiment)["methods"]["inlp"]["fit"]),
        checkpoints="results/checkpoints/train/{experiment}/{model}/inlp/seed~{seed}",
        code=trainer_code("inlp"),
        launch=LAUNCH,
    shell:
        "{params.launch:{resources.distributed},{resources.gpu}} --threads {threads} train --method inlp --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


# reward_guided: one job per (model, method, seed, dataset size, temperature); the adapter folder holds
# training_metrics.csv (per-step loss, bias, KL, reward) beside the weights.
rule train_reward_guided:
    input:
        unpack(lambda w: {"data": "results/data/reward_guided/mcq.parquet", "model": model_input(w.model)}),
    output:
        directory(
            "results/train/reward_guided/{model}/{method}/seed~{seed}/size~{size}/temperature~{temperature}/adapter"
        ),
    log:
        "results/logs/train/reward_guided/{model}/{method}/seed~{seed}/size~{size}/temperature~{temperature}.log",
    benchmark:
        "results/benchmarks/train/reward_guided/{model}/{method}/seed~{seed}/size~{size}/temperature~{temperature}.tsv"
    wildcard_constraints:
        method="reinforce|rloo",
        size=r"\d+",
        temperature=r"\d+(\.\d+)?",
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(reward_guided_train_settings(w)),
        checkpoints="results/checkpoints/train/reward_guided/{model}/{method}/seed~{seed}/size~{size}/temperature~{temperature}",
        code=lambda w: trainer_code(w.method),
        launch=LAUNCH,
    shell:
        "{params.launch:{resources.distributed},{resources.gpu}} --threads {threads} train --method {wildcards.method}"
        " --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


rule train_forget_lora:
    input:
        unpack(lambda w: {"data": "results/data/rm_forget/train_pairs.parquet", "model": model_input(w.model)}),
    output:
        directory("results/train/rm_forget/{model}/forget_{mode}/seed~{seed}/adapter"),
    log:
        "results/logs/train/rm_forget/{model}/forget_{mode}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/rm_forget/{model}/forget_{mode}/seed~{seed}.tsv"
    wildcard_constraints:
        mode="style|correctness|cross",
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=forget_train_settings,
        checkpoints="results/checkpoints/train/rm_forget/{model}/forget_{mode}/seed~{seed}",
        code=trainer_code("forget_lora"),
        launch=LAUNCH,
    shell:
        "{params.launch:{resources.distributed},{resources.gpu}} --threads {threads} train --method forget_lora"
        " --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"


# desired_distribution: masked LMs are fully fine-tuned (a complete Hub-format model folder),
# causal LMs get a LoRA adapter folder; the scoring job tells them apart by adapter_config.json.
# An own single-device loop (no accelerate): the command is plain `debiaslab`, whatever the GPU count.
rule train_desired_kl:
    input:
        unpack(lambda w: {"data": "results/data/desired_distribution/sentences.parquet", "model": model_input(w.model)}),
    output:
        directory("results/train/desired_distribution/{model}/{method}/seed~{seed}/model"),
    log:
        "results/logs/train/desired_distribution/{model}/{method}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/desired_distribution/{model}/{method}/seed~{seed}.tsv"
    wildcard_constraints:
        method="kl_equal|kl_real_world",
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(experiment("desired_distribution")["methods"][w.method]["train"]),
        checkpoints="results/checkpoints/train/desired_distribution/{model}/{method}/seed~{seed}",
        code=lambda w: trainer_code(w.method),
    shell:
        "debiaslab --threads {threads} train --method {wildcards.method} --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"
