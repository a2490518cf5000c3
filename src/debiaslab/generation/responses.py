"""Stage entry for generation: prompts table in, responses table out.

Loads the model (and adapter) once, samples for every prompt row in batches, and
writes the prompt table with a `response` column added, so every downstream
score keeps the prompt's metadata (split, occupation, bias type, ...).
"""

from __future__ import annotations

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
        tokenizer.apply_chat_template(system + [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in prompts
    ]


def split_settings(settings: dict) -> tuple[dict, dict]:
    """Separate prompt-format keys from sampling keys in a generation config slice."""
    fmt_keys = {f.name for f in fields(PromptFormat)}
    return {k: v for k, v in settings.items() if k in fmt_keys}, {k: v for k, v in settings.items() if k not in fmt_keys}


def write_responses(model, adapter: str | Path | None, prompts_path: str | Path, settings: dict, seed: int, out) -> dict:
    from debiaslab import models
    from debiaslab.config import build
    from debiaslab.generation.autoregressive import SamplingSettings, generate, strip_thinking
    from debiaslab.io import read_table, write_parquet

    fmt_settings, sampling_settings = split_settings(settings)
    fmt = build(PromptFormat, fmt_settings, "generation")
    sampling = build(SamplingSettings, sampling_settings, "generation")
    prompts = read_table(prompts_path, required=["prompt"])
    spec = models.ModelSpec.parse(model)
    tokenizer = models.load_tokenizer(spec, padding_side="left")
    lm = models.load_model(spec, adapter=adapter)
    texts = generate(lm, tokenizer, format_prompts(tokenizer, prompts["prompt"].tolist(), fmt), sampling, seed)
    responses = prompts.copy()
    responses["response"] = [strip_thinking(t) for t in texts] if fmt.strip_thinking else texts
    write_parquet(out, responses)
    return {"responses": len(responses)}
