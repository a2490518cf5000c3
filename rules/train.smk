# Training: one generic rule for every trained method (methods/registry.py, kind adapter, projection or
# model) of every experiment: one job per (experiment, model, method, seed[, grid cell]). What a job reads
# and its config slice are its experiment's `training`; its code fingerprint is its method's trainer only.
# Checkpoints go under <root>/checkpoints/ (not a declared output) so a killed or preempted job resumes.
# Resources: TRAIN_RESOURCES (memory and runtime scaled by model size and retry; the GPU count and partition
# come from the profile); `debiaslab --gpus N` runs itself under `accelerate launch` when N > 1.


rule train:
    input:
        unpack(train_inputs),
    output:
        directory(R("train/{experiment}/{model}/{method}/seed~{seed}/{artifact}")),
    log:
        R("logs/train/{experiment}/{model}/{method}/seed~{seed}/{artifact}.log"),
    benchmark:
        R("benchmarks/train/{experiment}/{model}/{method}/seed~{seed}/{artifact}.tsv")
    wildcard_constraints:
        experiment="|".join(name for name in EXPERIMENTS if EXP[name].training) or "(?!)",
        method="|".join(TRAINED_METHODS),
        # the artifact's folder, after the grid cell's folder levels if the run has cells
        artifact=r"([a-z_]+~[0-9.]+/)*(adapter|projection|model)",
    priority: PRIORITY["train"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **TRAIN_RESOURCES,
    params:
        model=lambda w: model_spec(w.model),
        settings=lambda w: as_json(train_settings(w)),
        checkpoints=R("checkpoints/train/{experiment}/{model}/{method}/seed~{seed}/{artifact}"),
        code=lambda w: trainer_code(w.method),
    shell:
        "debiaslab --gpus {resources.gpu} --distributed {resources.distributed} --threads {threads}"
        " train --method {wildcards.method} --model {params.model:q} --data {input.data}"
        " --settings {params.settings:q} --seed {wildcards.seed} --out {output} --checkpoints {params.checkpoints}"
        " > {log} 2>&1"
