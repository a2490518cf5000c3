"""Sentence log-likelihoods under a causal LM, shared by the bias benchmarks that compare sentences."""

from __future__ import annotations


def sentence_loglikelihoods(
    model, tokenizer, texts: list[str], batch_size: int, max_length: int
) -> tuple[list[float], list[int]]:
    """(Σ log p(token | prefix), number of tokens) of each text, the first token conditioned on the
    tokenizer's BOS (or EOS) token: lm-evaluation-harness's rule for a context-free request (CrowS-Pairs)
    and bias-bench's "unconditional start token" (StereoSet)."""
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.core.progress import track
    from debiaslab.models import model_device

    device = model_device(model)
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    encoded = [[start] + ids[: max_length - 1] for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start
    sums, counts = [0.0] * len(texts), [len(ids) - 1 for ids in encoded]
    with torch.no_grad():
        batches = list(by_length([len(ids) for ids in encoded], batch_size))
        for rows in track(batches, "sentence log-likelihoods", quiet=True):
            ids, mask = pad_batch([encoded[i] for i in rows], pad)
            ids, mask = ids.to(device), mask.to(device)
            logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            token = logprobs.gather(2, ids[:, 1:].unsqueeze(-1)).squeeze(-1) * mask[:, 1:]
            for i, v in zip(rows, token.sum(1).cpu().tolist()):
                sums[i] = v
    return sums, counts
