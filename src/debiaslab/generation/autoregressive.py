"""Batched sampling from causal LMs: left padding, prompts sorted by length.

Sorting by token length keeps padding (wasted compute) minimal; results are
returned in the caller's order. Sampling is seeded once per call, so the same
inputs and settings reproduce the same texts on the same device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tqdm.auto import tqdm

THINK = re.compile(r"<think>.*?(</think>|$)", flags=re.DOTALL)


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 0.95
    batch_size: int = 64
    do_sample: bool = True


def strip_thinking(text: str) -> str:
    """Drop `<think>…</think>` blocks (Qwen3's reasoning), keeping the answer after them.

    Text without a think block is returned unchanged (a raw continuation's leading
    space is part of the sentence).
    """
    if "<think>" not in text:
        return text
    return THINK.sub("", text).strip()


def generate(model, tokenizer, prompts: list[str], settings: SamplingSettings, seed: int, *,
             desc: str = "generate", processor_factory=None) -> list[str]:
    """Continue each prompt; returns only the newly generated text, in input order.

    `processor_factory(prompt_width)`, if given, returns logits processors for one
    batch (constrained decoding needs to know where each batch's prompt ends).
    """
    import torch

    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    outputs: list[str | None] = [None] * len(prompts)
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    kwargs = dict(max_new_tokens=settings.max_new_tokens, do_sample=settings.do_sample, pad_token_id=tokenizer.pad_token_id)
    if settings.do_sample:
        kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
    with torch.inference_mode():
        for start in tqdm(range(0, len(order), settings.batch_size), desc=desc, mininterval=2):
            idx = order[start : start + settings.batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
            extra = {}
            if processor_factory is not None:
                from transformers import LogitsProcessorList

                extra["logits_processor"] = LogitsProcessorList(processor_factory(batch["input_ids"].shape[1]))
            out = model.generate(**batch, **kwargs, **extra)
            texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
            for i, text in zip(idx, texts):
                outputs[i] = text
    return outputs  # type: ignore[return-value]
