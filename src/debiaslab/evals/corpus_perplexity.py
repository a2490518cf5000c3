"""Token-weighted corpus perplexity (strided past the context) and MLM pseudo-log-likelihood.

- Causal LMs: each text is cut into windows of at most `max_length` tokens that advance by `stride`
  (the "perplexity of fixed-length models" recipe in the transformers docs): every window predicts
  only the tokens the previous window did not, with up to max_length − stride earlier tokens as
  context. Perplexity = exp(Σ NLL / Σ predicted tokens) over the whole corpus (token-weighted, not a
  mean of per-text perplexities). Texts are encoded with the tokenizer's special tokens (a BOS where
  the model has one); the first token of a text without BOS is not predicted. Unlike the recipe,
  texts are not concatenated (no cross-document context) and the NLL is summed exactly per window
  rather than as mean × target length.
- Masked LMs: pseudo-log-likelihood (Salazar et al. 2020): every non-special token masked once,
  PLL = Σ log p(token | the rest); pseudo-perplexity = exp(−Σ PLL / Σ scored tokens). And/or the
  MLM loss (`mlm_loss`, docs/experiments/desired_distribution.md#deviation-mlm-utility-loss): in
  every text exactly max(1, ⌊p·n⌋) of its n non-special tokens masked at once (p = 0.15), positions
  drawn by one generator seeded with `mask_seed` and used in corpus order, so the masks depend neither
  on batching nor on the model (a model before and after fine-tuning is scored on the same masks);
  loss = Σ NLL of masked tokens / their number.
  (The desired_distribution source's `evaluate_mlm_loss.py` left the visible tokens in its labels,
  so its "MLM loss" also averaged over tokens the model could see; here only masked tokens count.)
- Corpus filters (`dataset.where`, `min_words`, `exclude_prefixes`): the desired_distribution
  source kept WikiText-103 lines of at least 15 words that are not "= heading =" lines.
Windows and masked copies from all texts are scored in length-sorted batches; for masked copies
the output projection runs only at the masked position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def windows(n_tokens: int, max_length: int, stride: int) -> list[tuple[int, int, int]]:
    """(begin, end, first predicted position) of each window over a sequence of n tokens.

    Position i is predicted from positions < i, so position 0 never is; each later position is
    predicted exactly once, in the first window that reaches it, with the most context available.
    """
    if max_length < 2 or not 1 <= stride <= max_length:
        raise ValueError(f"need max_length >= 2 and 1 <= stride <= max_length, got {max_length}, {stride}")
    out, prev_end, begin = [], 1, 0
    while prev_end < n_tokens:
        end = min(begin + max_length, n_tokens)
        out.append((begin, end, max(prev_end, begin + 1)))
        prev_end = end
        begin += stride
    return out


def causal_nll(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    max_length: int,
    stride: int,
    batch_size: int,
    add_special_tokens: bool = True,
) -> tuple[list[float], list[int]]:
    """Per text: (Σ NLL of its predicted tokens, number of predicted tokens), strided windows."""
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.core.progress import track
    from debiaslab.models import model_device

    device = model_device(model)
    encoded = tokenizer(list(texts), add_special_tokens=add_special_tokens)["input_ids"]
    items = [(t, ids[b:e], p - b) for t, ids in enumerate(encoded) for b, e, p in windows(len(ids), max_length, stride)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    nll, count = [0.0] * len(texts), [0] * len(texts)
    with torch.no_grad():
        for rows in track(list(by_length([len(item[1]) for item in items], batch_size)), "causal NLL", quiet=True):
            ids, mask = pad_batch([items[i][1] for i in rows], pad)
            # a window's predicted positions: from its first new token to its end (right padding after)
            first = torch.tensor([items[i][2] for i in rows])
            scored = (torch.arange(ids.shape[1]) >= first[:, None]) & mask.bool()
            ids, mask, scored = ids.to(device), mask.to(device), scored.to(device)
            logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            token = -logprobs.gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * scored[:, 1:]
            for i, value, n in zip(rows, token.sum(1).tolist(), scored[:, 1:].sum(1).tolist()):
                nll[items[i][0]] += value
                count[items[i][0]] += n
    return nll, count


def perplexity(nll: Sequence[float], count: Sequence[int]) -> dict:
    """Token-weighted: exp(Σ NLL / Σ tokens) over the texts given."""
    total, n = float(sum(nll)), int(sum(count))
    loss = total / n if n else float("nan")
    return {"nll_per_token": loss, "perplexity": math.exp(loss) if n else float("nan"), "tokens": n}


def perplexity_values(
    nll: Sequence[float], count: Sequence[int], boot, split: str, names: dict[str, str]
) -> list[dict]:
    """Score-store rows of `perplexity` (keys of `names`: "perplexity", "nll_per_token" → metric names), each with
    replicates over the texts (`boot`: a core.statistics.Bootstrap); n = tokens."""
    import numpy as np

    loss = boot.of_ratio(nll, count)
    stats = {
        "nll_per_token": loss,
        "perplexity": {
            "value": math.exp(loss["value"]) if loss["n"] else float("nan"),
            "n": loss["n"],
            "replicates": np.exp(loss["replicates"]),
        },
    }
    return [{"split": split, "subset": "all", "metric": metric, **stats[key]} for key, metric in names.items()]


def masked_token_logprobs(model, tokenizer, items: Sequence[tuple[Sequence[int], int]], batch_size: int) -> list[float]:
    """log p(original token | the sequence with that one position masked), for each (ids, position)."""
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.core.progress import track
    from debiaslab.models import head_at, model_device

    device = model_device(model)
    out = [0.0] * len(items)
    with torch.no_grad():
        for rows in track(
            list(by_length([len(item[0]) for item in items], batch_size)), "masked-token log-probs", quiet=True
        ):
            ids, mask = pad_batch([list(items[i][0]) for i in rows], tokenizer.pad_token_id)
            index = torch.arange(len(rows))
            positions = torch.tensor([items[i][1] for i in rows])
            targets = ids[index, positions].clone()
            ids[index, positions] = tokenizer.mask_token_id
            positions = positions.to(device)
            with head_at(model, positions):
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[:, 0].float()
            values = torch.log_softmax(logits, -1).gather(1, targets.to(device).unsqueeze(1)).squeeze(1)
            for i, v in zip(rows, values.cpu().tolist()):
                out[i] = v
    return out


def masked_lm_nll(
    model, tokenizer, texts: Sequence[str], *, probability: float, seed: int, max_length: int, batch_size: int
) -> tuple[list[float], list[int]]:
    """Per text: (Σ NLL of its masked tokens, number masked), ⌊p·n⌋ tokens masked at once (seeded)."""
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.models import mask_choice, model_device

    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    special = set(tokenizer.all_special_ids)
    masks = [
        mask_choice([p for p, token in enumerate(ids) if token not in special], probability, generator)
        for ids in encoded
    ]  # in corpus order: independent of the batches below
    nll, count = [0.0] * len(texts), [0] * len(texts)
    from debiaslab.core.progress import track

    with torch.no_grad():
        for batch in track(list(by_length([len(ids) for ids in encoded], batch_size)), "MLM loss", quiet=True):
            rows = [i for i in batch if masks[i]]
            if not rows:
                continue
            ids, mask = pad_batch([encoded[i] for i in rows], tokenizer.pad_token_id)
            selected = torch.zeros(ids.shape, dtype=torch.bool)
            selected[[b for b, i in enumerate(rows) for _ in masks[i]], [p for i in rows for p in masks[i]]] = True
            targets = ids[selected]
            ids[selected] = tokenizer.mask_token_id
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits[selected.to(device)].float()
            token = -torch.log_softmax(logits, -1).gather(1, targets.to(device).unsqueeze(1)).squeeze(1)
            owner = torch.nonzero(selected)[:, 0].tolist()
            for b, v in zip(owner, token.cpu().tolist()):
                nll[rows[b]] += v
                count[rows[b]] += 1
    return nll, count


def pseudo_log_likelihoods(
    model, tokenizer, texts: Sequence[str], *, max_length: int, batch_size: int
) -> tuple[list[float], list[int]]:
    """Per text: (PLL = Σ log p(token | rest) over its non-special tokens, number of such tokens)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    special = set(tokenizer.all_special_ids)
    items, owner = [], []
    for t, ids in enumerate(encoded):
        for pos, token in enumerate(ids):
            if token not in special:
                items.append((ids, pos))
                owner.append(t)
    values = masked_token_logprobs(model, tokenizer, items, batch_size)
    pll, count = [0.0] * len(texts), [0] * len(texts)
    for t, v in zip(owner, values):
        pll[t] += v
        count[t] += 1
    return pll, count


@dataclass(frozen=True)
class CorpusData:
    path: str = "Salesforce/wikitext"  # a Hub dataset / Hub-format folder, or a table file (.tsv/.csv/.parquet/.jsonl)
    name: str | None = "wikitext-103-raw-v1"
    split: str = "test"  # also the score rows' split
    column: str = "text"
    where: dict = field(default_factory=dict)  # keep rows whose columns equal these values
    min_words: int = 0  # keep texts of at least this many words
    exclude_prefixes: tuple[str, ...] = ()  # drop texts starting with one of these (after stripping)


@dataclass(frozen=True)
class PerplexitySettings:
    dataset: CorpusData = field(default_factory=CorpusData)
    max_length: int | None = None  # None: the model's context (max_position_embeddings)
    stride: int | None = None  # None: max_length // 2, as the recipe's 1024/512
    batch_size: int = 8
    limit: int | None = None  # first n non-empty texts (None: all)
    pseudo_perplexity: bool = True  # masked LMs: PLL (one forward per token)
    mlm_loss: bool = False  # masked LMs: loss with ⌊mask_probability · n⌋ tokens masked per text
    mask_probability: float = 0.15
    mask_seed: int = 42


def load_texts(d: CorpusData, limit: int | None) -> list[str]:
    from pathlib import Path

    if Path(d.path).is_file():
        from debiaslab.core.io import read_table

        frame = read_table(d.path, required=list(d.where), text=[d.column])
    else:
        from debiaslab.hub.datasets import load_split

        frame = load_split(d.path, d.name, d.split, required=(d.column, *d.where))
    for key, value in d.where.items():
        frame = frame[frame[key] == value]
    prefixes = tuple(d.exclude_prefixes)
    texts = [
        t
        for t in frame[d.column].astype(str).tolist()
        if t.strip() and len(t.split()) >= d.min_words and not (prefixes and t.strip().startswith(prefixes))
    ]
    return texts[:limit] if limit else texts


def context_length(model, tokenizer, requested: int | None) -> int:
    if requested:
        return requested
    n = getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length
    return int(min(n, tokenizer.model_max_length if tokenizer.model_max_length < 10**9 else n))


def evaluate(model_spec, settings: dict, run, out, *, adapter=None, projection=None, records_out=None) -> dict:
    """Stage entry: causal LM → perplexity, nll_per_token; masked LM → pseudo_perplexity and/or mlm_loss
    (split = the data split)."""
    from debiaslab import models
    from debiaslab.core.config import build
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.evals.common import load_evaluated

    s = build(PerplexitySettings, settings, "evaluations.perplexity")
    spec = models.ModelSpec.parse(model_spec)
    kind = spec.kind if spec.kind != "auto" else models.infer_kind(spec)
    texts = load_texts(s.dataset, s.limit)
    model, tokenizer = load_evaluated(spec, kind=kind, adapter=adapter, projection=projection, padding_side="right")
    max_length = context_length(model, tokenizer, s.max_length)
    split = s.dataset.split
    boot = Bootstrap(run.seed)
    if kind == "mlm":
        if not (s.pseudo_perplexity or s.mlm_loss):
            from debiaslab.core.config import ConfigError

            raise ConfigError("evaluations.perplexity: a masked LM needs pseudo_perplexity or mlm_loss (both off)")
        values, result = [], {}
        if s.pseudo_perplexity:
            pll, count = pseudo_log_likelihoods(model, tokenizer, texts, max_length=max_length, batch_size=s.batch_size)
            result = perplexity([-v for v in pll], count)
            values += perplexity_values(
                [-v for v in pll],
                count,
                boot,
                split,
                {"perplexity": "pseudo_perplexity", "nll_per_token": "pseudo_nll_per_token"},
            )
        if s.mlm_loss:
            nll, count = masked_lm_nll(
                model,
                tokenizer,
                texts,
                probability=s.mask_probability,
                seed=s.mask_seed,
                max_length=max_length,
                batch_size=s.batch_size,
            )
            masked = perplexity(nll, count)
            values += perplexity_values(nll, count, boot, split, {"nll_per_token": "mlm_loss"})
            result = {**result, "mlm_loss": masked["nll_per_token"], "masked_tokens": masked["tokens"]}
    else:
        nll, count = causal_nll(
            model,
            tokenizer,
            texts,
            max_length=max_length,
            stride=s.stride or max(1, max_length // 2),
            batch_size=s.batch_size,
        )
        result = perplexity(nll, count)
        values = perplexity_values(
            nll, count, boot, split, {"perplexity": "perplexity", "nll_per_token": "nll_per_token"}
        )
    write_scores(out, score_rows(run, values, settings))
    return {"texts": len(texts), **result}
