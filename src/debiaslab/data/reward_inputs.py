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
            tokenizer.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False)
            for p, r in zip(prompts, responses)
        ]
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    else:
        ids = tokenizer([f"{p}\n\n{r}" for p, r in zip(prompts, responses)])["input_ids"]
    return [row[:max_length] if max_length else row for row in ids]


def pad_batch(rows: list[list[int]], pad_id: int, side: str = "right"):
    """Input ids and attention mask, padded on `side` ("right": seq-cls heads read the last non-pad token)."""
    import torch

    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(0, len(row)) if side == "right" else slice(width - len(row), width)
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return ids, mask


def score(model, tokenizer, encoded: list[list[int]], batch_size: int = 32) -> list[float]:
    """The scalar reward of every encoded input, batched by length (then put back in order)."""
    import torch

    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = [0.0] * len(encoded)
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start: start + batch_size]
            ids, mask = pad_batch([encoded[i] for i in idx], tokenizer.pad_token_id)
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for i, value in zip(idx, logits[:, 0].float().cpu().tolist()):
                out[i] = value
    return out
