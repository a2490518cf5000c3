"""Stage entry for generation: prompts table in, responses table out.

Loads the model (with the method's adapter or INLP projection) once, samples for
every prompt row in batches, and writes the prompt table with a `response` column
added, so every downstream score keeps the prompt's metadata (split, occupation,
bias type, ...). A decoding-time method (methods/registry.py, kind "decoding") is its module's
`decode`, given the experiment's criterion for it (the experiment's `decoding`):

- `gen_filter`: k samples per prompt, keep the first the experiment accepts;
- `constrained`: decoding that guarantees a term of each of the experiment's classes;
- anything else: plain sampling (with the adapter/projection, if any).

The decoder and the INLP projection are imported by name (`decoder`, `PROJECTION_MODULE`), so this
module's code fingerprint holds none of them: a generation job fingerprints this module plus what its
method uses (rules/common.smk `generation_code`), and editing the constrained decoder reruns the
constrained runs only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class PromptFormat:
    """How a prompt row becomes model input.

    chat: wrap the prompt as the user turn of the model's chat template (with
    `system_prompt` first, and the generation prompt after); otherwise the prompt
    is continued as raw text. strip_thinking: drop `<think>…</think>` from responses.
    """

    chat: bool = False
    system_prompt: str | None = None
    strip_thinking: bool = True


def format_prompts(tokenizer, prompts: list[str], fmt: PromptFormat) -> list[str]:
    if not fmt.chat:
        return list(prompts)
    system = [{"role": "system", "content": fmt.system_prompt}] if fmt.system_prompt else []
    return [
        tokenizer.apply_chat_template(
            system + [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]


def split_settings(settings: dict) -> tuple[dict, dict]:
    """Separate prompt-format keys from sampling keys in a generation config slice."""
    fmt_keys = {f.name for f in fields(PromptFormat)}
    return {k: v for k, v in settings.items() if k in fmt_keys}, {
        k: v for k, v in settings.items() if k not in fmt_keys
    }


PROJECTION_MODULE = "debiaslab.methods.inlp"  # add_projection_hook / load_projection: INLP's projection


def write_responses(
    model,
    prompts_path: str | Path,
    settings: dict,
    seed: int,
    out,
    *,
    decoder: str | None = None,
    criterion=None,
    method_settings: dict | None = None,
    adapter: str | Path | None = None,
    projection: str | Path | None = None,
) -> dict:
    from debiaslab import models
    from debiaslab.core.config import build
    from debiaslab.core.io import read_table, write_parquet
    from debiaslab.generation.autoregressive import SamplingSettings, generate, strip_thinking

    fmt_settings, sampling_settings = split_settings(settings)
    fmt = build(PromptFormat, fmt_settings, "generation")
    sampling = build(SamplingSettings, sampling_settings, "generation")
    prompts = read_table(prompts_path, text=["prompt"])
    spec = models.ModelSpec.parse(model)
    tokenizer = models.load_tokenizer(spec, padding_side="left")
    lm = models.load_model(spec, adapter=adapter)
    if projection is not None:
        inlp = importlib.import_module(PROJECTION_MODULE)
        inlp.add_projection_hook(lm, inlp.load_projection(projection))
    inputs = format_prompts(tokenizer, prompts["prompt"].tolist(), fmt)
    responses = prompts.copy()
    summary: dict = {"responses": len(responses)}
    if decoder is not None:
        # decode(lm, tokenizer, inputs, rows, sampling, seed, settings, criterion) -> (texts, columns, summary)
        decode = importlib.import_module(decoder).decode
        texts, columns, extra = decode(
            lm, tokenizer, inputs, prompts.to_dict("records"), sampling, seed, method_settings or {}, criterion
        )
        for name, values in columns.items():
            responses[name] = values
        summary.update(extra)
    else:
        texts = generate(lm, tokenizer, inputs, sampling, seed)
    responses["response"] = [strip_thinking(t) for t in texts] if fmt.strip_thinking else texts
    write_parquet(out, responses)
    return summary
