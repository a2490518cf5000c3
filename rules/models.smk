# Models named by a GGUF file (`models.<name>.gguf`): converted once into a Hub-format folder that every
# stage loads as any other model (model_entry gives jobs that folder as `path`; model_input makes
# them depend on it). Reruns only when the GGUF file or the conversion code changes.


rule import_gguf:
    input:
        gguf=lambda w: str(locate_gguf(config["models"][w.model]["gguf"])),
    output:
        model=directory(R.imported_model("{model}")["model"]),
        provenance=R.imported_model("{model}")["provenance"],
    log:
        R("logs/models/{model}/import_gguf.log"),
    benchmark:
        R("benchmarks/models/{model}/import_gguf.tsv")
    priority: PRIORITY["testbed"]
    conda:
        "../envs/train.yaml"
    threads: 1
    resources:
        **GENERATE_RESOURCES,
    params:
        source=lambda w: as_json(config["models"][w.model]["gguf"]),
        code=code("debiaslab.hub.gguf"),
    shell:
        "debiaslab --threads {threads} models import-gguf --gguf {params.source:q} --out {output.model}"
        " --provenance {output.provenance} > {log} 2>&1"
