"""Per-response scores from Hugging Face sequence classifiers: a bias-type classifier and a reward model.

As the `safety` source (docs/experiments/safety.md#metrics):
- bias score = the classifier's probability of the label named for the prompt's bias
  type (`maximuspowers/bias-type-classifier`: 11 topic labels; note it detects the
  *topic* of bias, not whether a text is biased), on the response alone. The
  probability function is the one transformers' text-classification pipeline applies
  (the source used the pipeline): sigmoid for multi-label or one-logit heads, softmax
  otherwise;
- reward = the reward model's logit on the (prompt, response) pair encoding
  (`OpenAssistant/reward-model-deberta-v3-large`: `tokenizer(question, answer)`).

`safety`'s scoring entry (experiments/safety/scoring.py) runs both. Both tokenize every input once
(one tokenizer call), then run batches of inputs sorted by token length (least padding), results in
input order.
"""

from __future__ import annotations


def probability_function(problem_type: str | None, num_labels: int) -> str:
    """'sigmoid', 'softmax' or 'none', chosen as transformers' TextClassificationPipeline does."""
    if problem_type == "regression":
        return "none"
    if problem_type == "multi_label_classification" or num_labels == 1:
        return "sigmoid"
    return "softmax"


def probabilities(logits, function: str):
    """Row-wise probabilities of a (n, labels) float tensor."""
    import torch

    if function == "sigmoid":
        return torch.sigmoid(logits)
    if function == "softmax":
        return torch.softmax(logits, dim=-1)
    return logits


def pair_logits(model, tokenizer, first: list[str], second: list[str] | None, max_length: int):
    """The model's logits on a batch of texts (or text pairs), truncated to `max_length` tokens."""
    batch = tokenizer(first, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return model(**batch.to(next(model.parameters()).device)).logits.float()


def encode_inputs(tokenizer, first: list[str], second: list[str] | None, max_length: int) -> dict[str, list]:
    """Every text (or text pair) tokenized once, unpadded: token ids and, if the model has them, token
    type ids. One tokenizer call for all inputs; each batch is padded from these (`batching.pad_encoded`)."""
    enc = tokenizer(first, second, truncation=True, max_length=max_length, return_attention_mask=False)
    return {key: enc[key] for key in ("input_ids", "token_type_ids") if key in enc}


def _logits(model, tokenizer, first: list[str], second: list[str] | None, batch_size: int, max_length: int):
    """(inputs, labels) float tensor of logits in input order: tokenized once, batched by token length."""
    import torch

    from debiaslab.core.batching import by_length, pad_encoded
    from debiaslab.core.progress import track

    encoded = encode_inputs(tokenizer, first, second, max_length)
    device = next(model.parameters()).device
    out = torch.empty((len(first), model.config.num_labels))
    with torch.inference_mode():
        for idx in track(list(by_length([len(ids) for ids in encoded["input_ids"]], batch_size)), "score responses"):
            batch = pad_encoded(encoded, idx, tokenizer.pad_token_id, side=tokenizer.padding_side)
            out[idx] = model(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()
    return out


def label_index(model, label: str) -> int:
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    for i, name in id2label.items():
        if name == label:
            return i
    raise ValueError(f"classifier {model.config.name_or_path}: no label {label!r}; labels: {sorted(id2label.values())}")


def label_probabilities(
    model, tokenizer, texts: list[str], label: str, batch_size: int, max_length: int
) -> list[float]:
    """P(label | text) for every text."""
    column = label_index(model, label)
    function = probability_function(model.config.problem_type, model.config.num_labels)
    if not texts:
        return []
    return probabilities(_logits(model, tokenizer, texts, None, batch_size, max_length), function)[:, column].tolist()


def reward_scores(
    model, tokenizer, prompts: list[str], responses: list[str], batch_size: int, max_length: int
) -> list[float]:
    """The reward model's (first) logit on every (prompt, response) pair."""
    if not prompts:
        return []
    return _logits(model, tokenizer, prompts, responses, batch_size, max_length)[:, 0].tolist()
