"""Stage entry for generation: prompts table in, responses table out.

Loads the model (and adapter) once, samples for every prompt row in batches, and
writes the prompt table with a `response` column added, so every downstream
score keeps the prompt's metadata (split, occupation, bias type, ...).
"""

from __future__ import annotations

from pathlib import Path


def write_responses(model, adapter: str | Path | None, prompts_path: str | Path, settings: dict, seed: int, out) -> dict:
    from debiaslab import models
    from debiaslab.config import build
    from debiaslab.generation.autoregressive import SamplingSettings, generate
    from debiaslab.io import read_table, write_parquet

    sampling = build(SamplingSettings, settings, "generation")
    prompts = read_table(prompts_path, required=["prompt"])
    spec = models.ModelSpec.parse(model)
    tokenizer = models.load_tokenizer(spec, padding_side="left")
    lm = models.load_model(spec, adapter=adapter)
    responses = prompts.copy()
    responses["response"] = generate(lm, tokenizer, prompts["prompt"].tolist(), sampling, seed)
    write_parquet(out, responses)
    return {"responses": len(responses)}
