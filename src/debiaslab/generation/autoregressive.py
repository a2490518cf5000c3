"""Batched sampling from causal LMs: left padding, prompts sorted by length.

Sorting by token length keeps padding (wasted compute) minimal; results are
returned in the caller's order. Sampling is seeded once per call, so the same
inputs and settings reproduce the same texts on the same device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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


class NucleusSampler:
    """Temperature + top-p (nucleus) sampling as one logits processor, for `generate(do_sample=False)`.

    It draws the next token from exactly the distribution transformers' TemperatureLogitsWarper +
    TopPLogitsWarper + multinomial sampling define (keep the most probable tokens until their mass
    reaches top_p, at least one; renormalise; sample) and returns scores that are 0 at the drawn token
    and -inf elsewhere, so greedy decoding emits it. Why not the built-in warpers: on a CPU they sort
    the whole vocabulary and draw an exponential for every vocabulary entry at every step, which is
    most of a batched step on a small model (docs/performance.md); the nucleus is found here with a
    partial sort (`topk`) that widens until it holds top_p of the mass, and the draw is over it alone.
    The draws use torch's global generator, so a seed reproduces the texts (they differ from the
    built-in warpers' draws for the same seed: the random numbers are used differently).
    """

    def __init__(self, temperature: float, top_p: float, candidates: int = 32, *, eos_ids=(), prompt_width: int = 0):
        if temperature <= 0 or not 0 < top_p <= 1:
            raise ValueError(f"sampling needs temperature > 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
        self.temperature, self.top_p, self.candidates = temperature, top_p, candidates
        self.eos_ids, self.prompt_width = list(eos_ids), prompt_width

    def finished(self, input_ids):
        """Rows that already emitted an EOS: generate() pads them whatever is drawn, and their (often
        flat) distributions would only widen the partial sort."""
        import torch

        if input_ids is None or not self.eos_ids or input_ids.shape[1] <= self.prompt_width:
            return None
        return torch.isin(input_ids[:, self.prompt_width :], torch.tensor(self.eos_ids, device=input_ids.device)).any(
            -1
        )

    def nucleus(self, probs):
        """(probabilities, token ids) of the smallest top-mass set per row, zero-padded to a common width."""
        import torch

        vocab = probs.shape[-1]
        if self.top_p >= 1:
            return probs, torch.arange(vocab, device=probs.device).expand_as(probs)
        k = min(self.candidates, vocab)
        while True:
            top, ids = probs.topk(k, dim=-1)  # sorted, most probable first
            mass = top.sum(-1)
            if k == vocab or bool((mass >= self.top_p).all()):
                break  # every row's nucleus lies within its k most probable tokens
            # every other token is at most as probable as the k-th, itself at most mass / k: a row
            # needs at least k * top_p / mass tokens, so widen to that at once (a flat distribution,
            # e.g. under INLP's projection, goes to the whole vocabulary in one step, not four)
            need = int(k * self.top_p / float(mass.min().clamp(min=1e-12))) + 1
            k = min(vocab, max(4 * k, need))
        # transformers removes a token when the mass of the tokens ranked above it is >= top_p
        above = top.cumsum(-1) - top
        keep = above < self.top_p
        keep[:, 0] = True
        return top * keep, ids

    def __call__(self, input_ids, scores):
        import torch

        probs = torch.softmax(scores / self.temperature, dim=-1)
        done = self.finished(input_ids)
        if done is not None and bool(done.any()):
            probs[done] = torch.nn.functional.one_hot(probs[done].argmax(-1), probs.shape[-1]).to(probs.dtype)
        weights, ids = self.nucleus(probs)
        token = ids.gather(-1, torch.multinomial(weights, 1))
        return torch.full_like(scores, float("-inf")).scatter_(-1, token, 0.0)


def stop_token_ids(model) -> list[int]:
    """The token ids at which `model.generate()` stops (its generation config's eos: None, an id or a list)."""
    config = getattr(model, "generation_config", None)
    eos = config.eos_token_id if config is not None else None
    return [] if eos is None else [eos] if isinstance(eos, int) else list(eos)


def generate(
    model,
    tokenizer,
    prompts: list[str],
    settings: SamplingSettings,
    seed: int,
    *,
    desc: str = "generate",
    processor_factory=None,
) -> list[str]:
    """Continue each prompt; returns only the newly generated text, in input order.

    `processor_factory(prompt_width)`, if given, returns logits processors for one
    batch (constrained decoding needs to know where each batch's prompt ends).
    """
    import torch
    from transformers import LogitsProcessorList

    from debiaslab.core.batching import by_length
    from debiaslab.core.progress import Progress

    tokenizer.padding_side = "left"
    encoded = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    batches = list(by_length([len(ids) for ids in encoded], settings.batch_size))
    outputs: list[str | None] = [None] * len(prompts)
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    # sampling happens in NucleusSampler; generate() then only takes the token it drew (greedy)
    kwargs = dict(
        max_new_tokens=settings.max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        temperature=None,
        top_p=None,
        top_k=None,
    )
    eos_ids = stop_token_ids(model)
    progress = Progress(desc, len(prompts), "prompts")
    with torch.inference_mode():
        for idx in batches:
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt").to(device)
            processors = list(processor_factory(batch["input_ids"].shape[1])) if processor_factory else []
            if settings.do_sample:
                processors.append(
                    NucleusSampler(
                        settings.temperature, settings.top_p, eos_ids=eos_ids, prompt_width=batch["input_ids"].shape[1]
                    )
                )
            out = model.generate(**batch, **kwargs, logits_processor=LogitsProcessorList(processors))
            texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
            for i, text in zip(idx, texts):
                outputs[i] = text
            progress.update(len(idx))
    progress.close()
    return outputs  # type: ignore[return-value]
