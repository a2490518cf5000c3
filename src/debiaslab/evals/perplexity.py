"""Perplexity and masked-LM loss on an external corpus (general purpose, batched).

- `causal_perplexity`: token-weighted perplexity exp(Σ NLL / Σ predicted tokens) over all
  texts. (The `desired_distribution` source weighted each text's mean loss by its full token
  count, BOS included, though BOS is never predicted; here each predicted token counts once.)
- `masked_lm_loss`: the MLM loss with 15 % masking: in every text exactly max(1, ⌊0.15·n⌋) of
  its n non-special tokens are replaced by the mask token, chosen by a seeded generator per
  text (so the choice does not depend on batching); the loss is the token-weighted mean NLL
  of the masked tokens. (The source's `evaluate_mlm_loss.py` left the unmasked tokens in its
  labels, so its "MLM loss" also averaged over tokens the model could see; here only masked
  tokens count.)
- `pseudo_perplexity`: exp of the mean pseudo-log-likelihood NLL (Salazar et al. 2020): every
  non-special token masked once, one copy of the text per token.

`sequence_nll` and `pll_nll` return per-row sums and counts with or without gradient: the
`desired_distribution` trainer reuses them for its sentence losses.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence


def _batches(n: int, size: int) -> Iterable[range]:
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def _device(model):
    return next(model.parameters()).device


def sequence_nll(model, input_ids, attention_mask):
    """Per-row (sum of next-token NLL, number of predicted tokens) for a right-padded causal batch."""
    import torch
    import torch.nn.functional as F

    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
    targets = input_ids[:, 1:]
    valid = attention_mask[:, 1:].bool()
    nll = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    nll = nll.view(targets.shape) * valid
    return nll.sum(dim=1), valid.sum(dim=1).to(torch.float32)


def causal_perplexity(model, tokenizer, texts: Sequence[str], batch_size: int = 16, max_length: int = 512) -> dict:
    """Token-weighted perplexity of a causal LM over `texts` (longest texts truncated to `max_length`)."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    total, count = 0.0, 0.0
    with torch.no_grad():
        for rows in _batches(len(order), batch_size):
            batch = [texts[order[i]] for i in rows]
            enc = tokenizer(batch, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
            if tokenizer.padding_side != "right":
                raise ValueError("causal_perplexity needs a right-padding tokenizer")
            enc = {k: v.to(_device(model)) for k, v in enc.items()}
            nll, n = sequence_nll(model, enc["input_ids"], enc["attention_mask"])
            total += float(nll.sum())
            count += float(n.sum())
    loss = total / max(count, 1.0)
    return {"loss": loss, "perplexity": math.exp(loss), "tokens": int(count), "texts": len(texts)}


def _mlm_encode(tokenizer, texts: Sequence[str], max_length: int):
    return tokenizer(list(texts), return_tensors="pt", padding=True, truncation=True, max_length=max_length,
                     return_special_tokens_mask=True)


def masked_positions(special_mask_row, attention_row, probability: float, generator):
    """Positions to mask in one text: exactly max(1, ⌊p·n⌋) of its n non-special tokens."""
    import torch

    candidates = torch.nonzero((special_mask_row == 0) & (attention_row == 1)).flatten()
    if len(candidates) == 0:
        return candidates
    k = max(1, int(math.floor(len(candidates) * probability)))
    return candidates[torch.randperm(len(candidates), generator=generator)[:k]]


def masked_lm_loss(model, tokenizer, texts: Sequence[str], probability: float = 0.15, seed: int = 42,
                   batch_size: int = 32, max_length: int = 512) -> dict:
    """Token-weighted MLM loss with exactly ⌊15 %⌋ of each text's tokens masked (seeded)."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    with torch.no_grad():
        for rows in _batches(len(texts), batch_size):
            enc = _mlm_encode(tokenizer, [texts[i] for i in rows], max_length)
            ids = enc["input_ids"]
            labels = torch.full_like(ids, -100)
            masked = ids.clone()
            for r in range(ids.size(0)):  # texts in corpus order: the masks do not depend on the batch size
                pos = masked_positions(enc["special_tokens_mask"][r], enc["attention_mask"][r], probability, generator)
                labels[r, pos] = ids[r, pos]
                masked[r, pos] = tokenizer.mask_token_id
            device = _device(model)
            logits = model(input_ids=masked.to(device), attention_mask=enc["attention_mask"].to(device)).logits
            sel = labels.to(device) != -100
            nll = F.cross_entropy(logits[sel].float(), labels.to(device)[sel], reduction="sum")
            total += float(nll)
            count += int(sel.sum())
    loss = total / max(count, 1)
    return {"loss": loss, "perplexity": math.exp(loss), "masked_tokens": count, "texts": len(texts)}


def pll_rows(input_ids, attention_mask, special_tokens_mask, mask_token_id: int):
    """One copy of each row per non-special token, that token masked: (ids, attention, labels, source row)."""
    import torch

    keep = (special_tokens_mask == 0) & (attention_mask == 1)
    rows, cols = torch.nonzero(keep, as_tuple=True)
    ids = input_ids[rows].clone()
    labels = torch.full_like(ids, -100)
    arange = torch.arange(len(rows))
    labels[arange, cols] = ids[arange, cols]
    ids[arange, cols] = mask_token_id
    return ids, attention_mask[rows], labels, rows


def pll_nll(model, ids, attention, labels):
    """Sum of NLL of the labelled (masked) positions and their count, for PLL rows."""
    import torch.nn.functional as F

    device = _device(model)
    logits = model(input_ids=ids.to(device), attention_mask=attention.to(device)).logits
    labels = labels.to(device)
    sel = labels != -100
    return F.cross_entropy(logits[sel].float(), labels[sel], reduction="sum"), int(sel.sum())


def pseudo_perplexity(model, tokenizer, texts: Sequence[str], batch_size: int = 64, max_length: int = 512) -> dict:
    """exp(mean pseudo-log-likelihood NLL per token): each token predicted with only itself masked."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for rows in _batches(len(texts), max(1, batch_size // 8)):
            enc = _mlm_encode(tokenizer, [texts[i] for i in rows], max_length)
            ids, attn, labels, _ = pll_rows(enc["input_ids"], enc["attention_mask"], enc["special_tokens_mask"],
                                            tokenizer.mask_token_id)
            for chunk in _batches(len(ids), batch_size):
                nll, n = pll_nll(model, ids[chunk.start:chunk.stop], attn[chunk.start:chunk.stop],
                                 labels[chunk.start:chunk.stop])
                total += float(nll)
                count += n
    loss = total / max(count, 1)
    return {"loss": loss, "perplexity": math.exp(loss), "tokens": count, "texts": len(texts)}


# --- external corpora ---------------------------------------------------------------------------

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv", ".tsv")
CORPUS_KEYS = {"name", "path", "column", "where", "hub_config", "hub_split", "min_words", "exclude_prefixes", "limit"}


def load_corpus(spec: dict) -> list[str]:
    """Texts of an external corpus from a config entry.

    `path` is a local file (.parquet/.jsonl/.json/.csv/.tsv with a text `column`, or .txt, one
    text per line) or a Hugging Face Hub dataset name (`hub_config`, `hub_split`). Rows can be
    filtered by exact column values (`where`), texts shorter than `min_words` or starting with
    one of `exclude_prefixes` are dropped (the source kept WikiText-103 lines of ≥ 15 words that
    are not "= heading =" lines), and `limit` keeps the first N.
    """
    from pathlib import Path

    from debiaslab.io import DataError, read_table

    unknown = sorted(set(spec) - CORPUS_KEYS)
    if unknown:
        raise DataError(f"corpus {spec.get('name', spec.get('path'))!r}: unknown key(s) {unknown}; allowed {sorted(CORPUS_KEYS)}")
    path, column = spec["path"], spec.get("column", "text")
    local = Path(path)
    if local.suffix.lower() == ".txt":
        if not local.is_file():
            raise DataError(f"{path}: file not found")
        frame = None
        texts = local.read_text(encoding="utf-8").splitlines()
    elif local.suffix.lower() in TABLE_SUFFIXES or local.exists():
        frame = read_table(local, required=[column] + list(spec.get("where") or {}))
    else:
        from datasets import load_dataset

        frame = load_dataset(path, spec.get("hub_config"), split=spec.get("hub_split", "test")).to_pandas()
        if column not in frame.columns:
            raise DataError(f"{path}: no column {column!r}; found {list(frame.columns)}")
    if frame is not None:
        for key, value in (spec.get("where") or {}).items():
            frame = frame[frame[key] == value]
        texts = frame[column].astype(str).tolist()
    prefixes = tuple(spec.get("exclude_prefixes") or ())
    min_words = spec.get("min_words", 0)
    texts = [t.strip() for t in texts]
    texts = [t for t in texts if t and len(t.split()) >= min_words and not (prefixes and t.startswith(prefixes))]
    if spec.get("limit"):
        texts = texts[: spec["limit"]]
    if not texts:
        raise DataError(f"{path}: no texts left after filtering ({spec})")
    return texts
