"""How a reward model reads a (prompt, response): one encoding for training and scoring.

The conversation [user: prompt, assistant: response] through the tokenizer's chat
template, as TRL's RewardTrainer formats conversational pairs (and as the source scored
with Llama-3.1's template); a tokenizer without a template gets "prompt\\n\\nresponse"
with its own special tokens. Training (testbed RM, forget-LoRA) and every λ of the
sweep share this function, so a score always means the same input.
"""

from __future__ import annotations


def encode(tokenizer, prompts: list[str], responses: list[str], max_length: int | None = None) -> list[list[int]]:
    """Token ids per (prompt, response); an input longer than `max_length` keeps its first tokens."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    if tokenizer.chat_template:
        texts = [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False
            )
            for p, r in zip(prompts, responses)
        ]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer([f"{p}\n\n{r}" for p, r in zip(prompts, responses)])["input_ids"]
    return [row[:max_length] if max_length else row for row in ids]


def score(model, tokenizer, encoded: list[list[int]], batch_size: int = 32) -> list[float]:
    """The scalar reward of every encoded input, batched by length (then put back in order)."""
    import torch

    from debiaslab.core.batching import by_length, pad_batch

    out = [0.0] * len(encoded)
    device = next(model.parameters()).device
    with torch.no_grad():
        for idx in by_length([len(row) for row in encoded], batch_size):
            ids, mask = pad_batch([encoded[i] for i in idx], tokenizer.pad_token_id)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for i, value in zip(idx, logits[:, 0].float().cpu().tolist()):
                out[i] = value
    return out
