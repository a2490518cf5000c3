"""Tiny scoring models for the testbed: a sequence classifier and a reward model.

Generic on purpose (any experiment may reuse them): both fine-tune any Hub-format
checkpoint given by path (the testbed's BERT MLM, or its Qwen3 LM) with a fresh
sequence-classification head, in a plain PyTorch loop, and save the result in Hub
format so scoring loads it by path exactly like `maximuspowers/bias-type-classifier`
or `OpenAssistant/reward-model-deberta-v3-large`.

- classifier: labelled texts {text, label}; cross-entropy; `id2label` saved in the
  config (single-label, so scorers read softmax probabilities);
- reward model: preference pairs {prompt, chosen, rejected}; one logit per
  (prompt, response) pair encoding; Bradley–Terry loss −log σ(r_chosen − r_rejected).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from debiaslab.core.progress import track


@dataclass(frozen=True)
class ScorerSettings:
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    max_length: int = 64
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 0


def _load(base: str, seed: int, **head):
    """The base checkpoint with a new sequence-classification head (initialised from `seed`), and its tokenizer."""
    import torch

    from debiaslab import models

    torch.manual_seed(seed)

    tokenizer = models.load_tokenizer(base, padding_side="right")
    model = models.load_model(base, kind="seq-cls", trainable=True, **head)
    if model.config.pad_token_id is None:  # causal-LM backbones find the last token through the pad id
        model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def train_loop(model, settings, n: int, loss_fn, desc: str, schedule: str = "linear") -> list[float]:
    """AdamW with warmup then linear (or cosine) decay over `settings.steps` random batches of example
    indices (drawn with replacement from `settings.seed`); `loss_fn(indices)` returns a batch's loss.
    Every tiny testbed scorer (classifier, reward model, style reward model) trains in this loop."""
    import torch
    from transformers import get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup

    schedules = {"linear": get_linear_schedule_with_warmup, "cosine": get_cosine_schedule_with_warmup}
    if schedule not in schedules:
        raise ValueError(f"schedule must be one of {sorted(schedules)}, got {schedule!r}")
    torch.manual_seed(settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    sched = schedules[schedule](opt, int(settings.warmup_ratio * settings.steps), settings.steps)
    model.train()
    losses = []
    for _ in track(range(settings.steps), desc, unit="steps"):
        idx = torch.randint(0, n, (min(settings.batch_size, n),), generator=gen).tolist()
        loss = loss_fn(idx)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    return losses


def _encode(tokenizer, first, second=None, max_length: int = 64):
    return tokenizer(first, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt")


def _save(model, tokenizer, out_dir, summary: dict) -> dict:
    from debiaslab.core.io import atomic_path, write_json

    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        write_json(Path(tmp) / "training_summary.json", summary)
    return summary


def train_classifier(base: str, texts: list[str], labels: list[str], settings: ScorerSettings, out_dir) -> dict:
    """Fine-tune `base` into a single-label classifier over the distinct `labels` (sorted)."""
    import torch

    names = sorted(set(labels))
    model, tokenizer = _load(
        base,
        settings.seed,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        problem_type="single_label_classification",
    )
    device = next(model.parameters()).device
    targets = torch.tensor([names.index(label) for label in labels])

    def loss_fn(idx):
        batch = _encode(tokenizer, [texts[i] for i in idx], max_length=settings.max_length).to(device)
        return model(**batch, labels=targets[idx].to(device)).loss

    losses = train_loop(model, settings, len(texts), loss_fn, "train classifier")
    with torch.inference_mode():
        predicted = torch.cat(
            [
                model(**_encode(tokenizer, texts[i : i + 256], max_length=settings.max_length).to(device))
                .logits.argmax(-1)
                .cpu()
                for i in range(0, len(texts), 256)
            ]
        )
    accuracy = float((predicted == targets).float().mean())
    return _save(
        model,
        tokenizer,
        out_dir,
        {
            "kind": "classifier",
            "labels": names,
            "examples": len(texts),
            "steps": settings.steps,
            "final_loss": tail_mean(losses),
            "train_accuracy": accuracy,
        },
    )


def reward_logits(model, tokenizer, prompts: list[str], responses: list[str], max_length: int):
    """One scalar per (prompt, response): the pair encoding that scoring uses (metrics.response_scores)."""
    from debiaslab.metrics.response_scores import pair_logits

    return pair_logits(model, tokenizer, prompts, responses, max_length)[:, 0]


def train_reward_model(
    base: str, prompts: list[str], chosen: list[str], rejected: list[str], settings: ScorerSettings, out_dir
) -> dict:
    """Fine-tune `base` into a one-logit reward model on preference pairs (Bradley–Terry)."""
    import torch
    import torch.nn.functional as F

    model, tokenizer = _load(base, settings.seed, num_labels=1, problem_type="regression")

    def loss_fn(idx):
        p = [prompts[i] for i in idx]
        rewards = reward_logits(
            model, tokenizer, p + p, [chosen[i] for i in idx] + [rejected[i] for i in idx], settings.max_length
        )
        return -F.logsigmoid(rewards[: len(idx)] - rewards[len(idx) :]).mean()

    losses = train_loop(model, settings, len(prompts), loss_fn, "train reward model")
    with torch.inference_mode():
        margins = torch.cat(
            [
                reward_logits(model, tokenizer, prompts[i : i + 256], chosen[i : i + 256], settings.max_length)
                - reward_logits(model, tokenizer, prompts[i : i + 256], rejected[i : i + 256], settings.max_length)
                for i in range(0, len(prompts), 256)
            ]
        )
    return _save(
        model,
        tokenizer,
        out_dir,
        {
            "kind": "reward_model",
            "pairs": len(prompts),
            "steps": settings.steps,
            "final_loss": tail_mean(losses),
            "pairwise_accuracy": float((margins > 0).float().mean()),
        },
    )


def tail_mean(losses: list[float]) -> float:
    tail = losses[-max(1, len(losses) // 10) :]
    return sum(tail) / len(tail)


def write_scorer(kind: str, base: str, data_path, settings: dict, out_dir) -> dict:
    """Stage entry: train a `classifier` ({text, label} rows) or `reward_model` ({prompt, chosen, rejected})."""
    from debiaslab.core.config import build
    from debiaslab.core.io import read_table

    typed = build(ScorerSettings, settings, f"scorer {kind}")
    if kind == "classifier":
        frame = read_table(data_path, required=["label"], text=["text"])
        return train_classifier(base, frame["text"].tolist(), frame["label"].astype(str).tolist(), typed, out_dir)
    if kind == "reward_model":
        frame = read_table(data_path, required=["prompt", "chosen", "rejected"])
        return train_reward_model(
            base, frame["prompt"].tolist(), frame["chosen"].tolist(), frame["rejected"].tolist(), typed, out_dir
        )
    raise ValueError(f"scorer kind must be 'classifier' or 'reward_model', got {kind!r}")
