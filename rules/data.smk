# Training data and prompt sets: one rule per data artifact of each configured experiment (its `data`,
# debiaslab/experiments/<name>/experiment.py), one job per (method, seed) where the artifact has them, so
# editing one method's data settings never rewrites another method's data.
# (A generated rule's `shell:` is evaluated when its job runs, after the loop: every loop-dependent value
# reaches the command through `params`, fixed when the rule is defined.)

for _name in EXPERIMENTS:
    for _artifact in EXP[_name].data:

        rule:
            name:
                f"data_{_name}_{_artifact.name}"
            input:
                data_inputs(_name, _artifact),
            output:
                **{key: R.data(_name, file) for key, file in _artifact.outputs.items()},
            log:
                R("logs", "data", _name, data_log_name(_artifact) + ".log"),
            benchmark:
                R("benchmarks", "data", _name, data_log_name(_artifact) + ".tsv")
            wildcard_constraints:
                method="|".join(_artifact.methods) or "[a-z_]+",
            priority: PRIORITY["data"]
            localrule: _artifact.local
            conda:
                "../envs/aggregate.yaml"
            params:
                experiment=_name,
                artifact=_artifact.name,
                settings=data_settings(_name, _artifact),
                flags=data_flags(_artifact),
                outputs=output_flags,
                code=code(module_of(_artifact.entry)),
            shell:
                "debiaslab data build --experiment {params.experiment} --artifact {params.artifact}"
                " --settings {params.settings:q}{params.flags} {params.outputs} > {log} 2>&1"
