"""Pretrain the testbed's tiny causal LM (Qwen3 architecture) and masked LM (BERT).

A plain PyTorch loop (AdamW, linear warmup + cosine decay) over the planted-bias
corpus; the result is saved in Hub format (config.json, model.safetensors,
tokenizer files, generation_config.json) so every later stage loads it with
`from_pretrained(path)` exactly as it would load a Hub model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from debiaslab.core.progress import track


@dataclass(frozen=True)
class PretrainSettings:
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    intermediate_size: int = 192
    max_length: int = 96
    steps: int = 1500
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    mlm_probability: float = 0.15
    initializer_range: float = 0.02  # std of the masked LM's initial weights (BERT's default)
    length_chunks: int = 1  # micro-batches per step, by length: same gradient, less padding (length_chunks())
    # the masked LM's attention-probability dropout (BERT's default 0.1). The default config sets 0: on a
    # CPU, scaled-dot-product attention with dropout runs its slow kernel, a quarter of an MLM step
    attention_dropout: float = 0.1
    seed: int = 0


def causal_config(tokenizer, s: PretrainSettings):
    from transformers import Qwen3Config

    return Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=s.hidden_size,
        intermediate_size=s.intermediate_size,
        num_hidden_layers=s.num_layers,
        num_attention_heads=s.num_heads,
        num_key_value_heads=s.num_kv_heads,
        head_dim=s.hidden_size // s.num_heads,
        max_position_embeddings=s.max_length * 4,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.pad_token_id,
    )


def mlm_config(tokenizer, s: PretrainSettings):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=s.hidden_size,
        intermediate_size=s.intermediate_size,
        num_hidden_layers=s.num_layers,
        num_attention_heads=s.num_heads,
        max_position_embeddings=s.max_length * 4,
        initializer_range=s.initializer_range,
        attention_probs_dropout_prob=s.attention_dropout,
        pad_token_id=tokenizer.pad_token_id,
    )


def adamw(params, **kwargs):
    """torch's AdamW with its fused kernel (one op per step instead of a few per parameter tensor:
    ~7% of a testbed LM step on a CPU); the same update up to float rounding."""
    import torch

    return torch.optim.AdamW(params, fused=True, **kwargs)


def _batches(encoded: list[list[int]], s: PretrainSettings):
    """Endless shuffled batches of token-id lists, reproducible from the seed."""
    import torch

    gen = torch.Generator().manual_seed(s.seed)
    while True:
        for idx in torch.randperm(len(encoded), generator=gen).split(s.batch_size):
            if len(idx) == s.batch_size:
                yield [encoded[i] for i in idx.tolist()]


def causal_loss(model, ids, mask, targets: int | None = None):
    """Next-token cross-entropy summed over the real (non-padding) targets, divided by `targets`
    (default: their number, i.e. the mean).

    The mean is the loss of `model(input_ids, attention_mask, labels=ids with padding → -100)`, but
    the vocabulary head runs only on positions that have a target: on the testbed's padded batches
    the head over all positions is most of a step (docs/performance.md).
    """
    import torch.nn.functional as F

    hidden = model.base_model(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask[:, 1:].bool()
    logits = model.get_output_embeddings()(hidden[:, :-1][keep])
    loss = F.cross_entropy(logits.float(), ids[:, 1:][keep], reduction="sum")
    return loss / (int(keep.sum()) if targets is None else targets)


def mlm_loss(model, batch: dict, targets: int | None = None):
    """BERT's masked-LM cross-entropy summed over the masked positions, divided by `targets` (default:
    their number, which gives `model(**batch).loss`), with the prediction head on those positions only:
    the head is position-wise, so the unmasked ~85% of positions it would otherwise score are skipped.
    """
    import torch.nn.functional as F

    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    hidden = model.base_model(**inputs).last_hidden_state
    keep = labels != -100
    loss = F.cross_entropy(model.cls(hidden[keep]).float(), labels[keep], reduction="sum")
    return loss / (int(keep.sum()) if targets is None else targets)


def length_chunks(lengths: list[int], chunks: int) -> list[list[int]]:
    """Row indices sorted by length, split into `chunks` near-equal micro-batches.

    One optimizer step over the micro-batches (losses summed / the batch's target count) has the same
    gradient as the padded batch; each micro-batch pads only to its own longest row (the testbed
    documents' lengths range from ~10 to 96 tokens, so one padded batch is ~70% padding).
    """
    from debiaslab.core.batching import by_length

    return list(by_length(lengths, max(1, -(-len(lengths) // max(1, chunks)))))


def _causal_step(model, batch: list[list[int]], pad_id: int, chunks: int) -> float:
    """Backward of the batch's mean next-token loss, micro-batched by length; returns the loss."""
    from debiaslab.core.batching import pad_batch  # right padding: ids and attention mask

    targets = sum(len(row) - 1 for row in batch)
    total = 0.0
    for idx in length_chunks([len(row) for row in batch], chunks):
        loss = causal_loss(model, *pad_batch([batch[i] for i in idx], pad_id), targets=targets)
        loss.backward()
        total += loss.item()
    return total


def _mlm_step(model, enc: dict, chunks: int) -> float:
    """Backward of the collated batch's masked-LM loss, micro-batched by length (right padding trimmed
    per micro-batch); the masking is the collator's, drawn once for the whole batch."""
    targets = int((enc["labels"] != -100).sum())
    lengths = enc["attention_mask"].sum(-1).tolist()
    total = 0.0
    for idx in length_chunks(lengths, chunks):
        width = max(lengths[i] for i in idx)
        loss = mlm_loss(model, {k: v[idx, :width] for k, v in enc.items()}, targets=targets)
        loss.backward()
        total += loss.item()
    return total


def pretrain(
    kind: str,
    documents: list[str],
    tokenizer_dir: str | Path,
    out_dir: str | Path,
    s: PretrainSettings,
    *,
    collator=None,
) -> dict:
    """Pretrain a tiny `kind` ("causal" or "mlm") model on `documents`; save it to `out_dir`.

    `collator(tokenizer)` may replace the standard MLM collator (a model that must learn one
    particular masked-word association: testbed/desired_distribution_mlm.py).
    """
    import torch
    from transformers import (
        AutoTokenizer,
        BertForMaskedLM,
        DataCollatorForLanguageModeling,
        GenerationConfig,
        Qwen3ForCausalLM,
        get_cosine_schedule_with_warmup,
    )

    from debiaslab.core.io import atomic_path

    torch.manual_seed(s.seed)
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if kind == "causal":
        model = Qwen3ForCausalLM(causal_config(tok, s))
        end = [tok.eos_token_id]  # every document ends with EOS, as SFT completions will (TRL appends it)
        encoded = [ids[: s.max_length - 1] + end for ids in tok(documents, add_special_tokens=False)["input_ids"]]
        collate = None
    elif kind == "mlm":
        model = BertForMaskedLM(mlm_config(tok, s))
        encoded = [ids[: s.max_length] for ids in tok(documents)["input_ids"]]
        collate = (
            collator(tok)
            if collator
            else DataCollatorForLanguageModeling(
                tok, mlm_probability=s.mlm_probability, seed=s.seed, return_tensors="pt"
            )
        )
    else:
        raise ValueError(f"kind must be 'causal' or 'mlm', got {kind!r}")

    opt = adamw(model.parameters(), lr=s.learning_rate, weight_decay=s.weight_decay)
    sched = get_cosine_schedule_with_warmup(opt, int(s.warmup_ratio * s.steps), s.steps)
    model.train()
    losses = []
    batches = _batches(encoded, s)
    for _ in track(range(s.steps), f"pretrain {kind}", unit="steps"):
        batch = next(batches)
        if collate is None:
            loss = _causal_step(model, batch, tok.pad_token_id, s.length_chunks)
        else:
            loss = _mlm_step(model, collate([{"input_ids": b} for b in batch]), s.length_chunks)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss)
    model.eval()
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        if kind == "causal":
            GenerationConfig(
                eos_token_id=[tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id],
                pad_token_id=tok.pad_token_id,
                do_sample=True,
            ).save_pretrained(tmp)
    tail = losses[-max(1, len(losses) // 10) :]
    return {
        "kind": kind,
        "steps": s.steps,
        "documents": len(documents),
        "final_loss": sum(tail) / len(tail),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def write_pretrained(kind: str, corpus_path, tokenizers_dir, settings: dict, out_dir) -> dict:
    """Stage entry: pretrain the `kind` model on the corpus's pretraining documents."""
    from debiaslab.core.config import build
    from debiaslab.testbed.corpus import read_corpus

    documents = read_corpus(corpus_path, use="pretrain")
    sub = {"causal": "causal", "mlm": "mlm"}[kind]
    return pretrain(
        kind, documents, Path(tokenizers_dir) / sub, out_dir, build(PretrainSettings, settings, f"testbed.{kind}")
    )
