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


rule train_forget_lora:
    input:
        unpack(lambda w: {"data": "results/data/rm_forget/train_pairs.parquet", "model": model_input(w.model)}),
    output:
        directory("results/train/rm_forget/{model}/forget_{mode}/seed~{seed}/adapter"),
    wildcard_constraints:
        mode="style|correctness|cross",
    params:
        model=lambda w: model_spec(w.model),
        settings=forget_train_settings,
        checkpoints="results/checkpoints/train/rm_forget/{model}/forget_{mode}/seed~{seed}",
        code=code("debiaslab.methods.train", "debiaslab.methods.forget_lora"),
    threads: 1
    log:
        "results/logs/train/rm_forget/{model}/forget_{mode}/seed~{seed}.log",
    benchmark:
        "results/benchmarks/train/rm_forget/{model}/forget_{mode}/seed~{seed}.tsv"
    conda:
        "../envs/train.yaml"
    shell:
        "debiaslab --threads {threads} train --method forget_lora --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"
