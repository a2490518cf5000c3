"""GLUE: fine-tune a masked LM per task and score the validation split (docs/evaluations.md#glue).

The `run_glue` recipe's defaults (transformers' text-classification example): max_seq_length 128,
batch 32, learning rate 2e-5, 3 epochs, AdamW (weight decay 0), linear decay without warm-up,
gradient clipping at 1.0, seed 42, a fresh classification head on the checkpoint. A plain PyTorch
loop rather than `Trainer` (same optimiser, schedule and clipping; `Trainer` would add seconds of
start-up per task on the testbed). Dynamic padding per batch instead of padding to 128: the
attention mask makes the two identical.

Data: `nyu-mll/glue` (one config per task) by Hub name, or the testbed's synthetic tasks in its
layout. Official metric per task (the GLUE paper; HF `evaluate`'s "glue"): Matthews correlation
for CoLA; F1 (positive class) and accuracy for MRPC and QQP; Pearson and Spearman correlation
for STS-B (a regression head); accuracy otherwise (MNLI: matched and mismatched).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# task → (text columns, number of labels (1 = regression), evaluation splits)
TASKS: dict[str, tuple[tuple[str, ...], int, tuple[str, ...]]] = {
    "cola": (("sentence",), 2, ("validation",)),
    "sst2": (("sentence",), 2, ("validation",)),
    "mrpc": (("sentence1", "sentence2"), 2, ("validation",)),
    "qqp": (("question1", "question2"), 2, ("validation",)),
    "stsb": (("sentence1", "sentence2"), 1, ("validation",)),
    "mnli": (("premise", "hypothesis"), 3, ("validation_matched", "validation_mismatched")),
    "qnli": (("question", "sentence"), 2, ("validation",)),
    "rte": (("sentence1", "sentence2"), 2, ("validation",)),
    "wnli": (("sentence1", "sentence2"), 2, ("validation",)),
}


@dataclass(frozen=True)
class GlueData:
    path: str = "nyu-mll/glue"


@dataclass(frozen=True)
class GlueSettings:
    dataset: GlueData = field(default_factory=GlueData)
    tasks: tuple[str, ...] = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte")
    max_seq_length: int = 128
    batch_size: int = 32
    eval_batch_size: int = 128
    learning_rate: float = 2e-5
    epochs: float = 3.0
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 42
    max_train_samples: int | None = None  # run_glue's option of the same name (None: all)
    max_eval_samples: int | None = None


def matthews(labels, predictions) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(labels, predictions))


def task_metrics(task: str, labels, predictions) -> dict[str, float]:
    """The task's official metric(s) from gold labels and predictions (class ids, or scores for STS-B)."""
    from sklearn.metrics import accuracy_score, f1_score

    if task == "cola":
        return {"matthews_corr": matthews(labels, predictions)}
    if task == "stsb":
        from scipy.stats import pearsonr, spearmanr

        return {
            "pearson": float(pearsonr(predictions, labels)[0]),
            "spearman": float(spearmanr(predictions, labels)[0]),
        }
    if task in ("mrpc", "qqp"):
        return {"f1": float(f1_score(labels, predictions)), "accuracy": float(accuracy_score(labels, predictions))}
    return {"accuracy": float(accuracy_score(labels, predictions))}


def glue_score(per_task: dict[str, dict[str, float]]) -> float:
    """The GLUE leaderboard's average: the mean over tasks of each task's mean metric."""
    means = [sum(m.values()) / len(m) for m in per_task.values()]
    return sum(means) / len(means)


def _encode(tokenizer, frame, columns, max_length):
    texts = [frame[c].astype(str).tolist() for c in columns]
    return tokenizer(*texts, truncation=True, max_length=max_length)


def fine_tune_and_predict(model_path: str, tokenizer, task: str, train, evals: dict, s: GlueSettings) -> dict:
    """Fine-tune a fresh classification model from `model_path` on `train`; per evaluation split, the gold
    labels and the predictions (class ids, or scores for STS-B)."""
    import math

    import torch
    from transformers import get_linear_schedule_with_warmup

    from debiaslab import models
    from debiaslab.core.batching import by_length, pad_encoded
    from debiaslab.core.progress import Progress

    columns, n_labels, _ = TASKS[task]
    torch.manual_seed(s.seed)
    # every weight is fine-tuned by plain AdamW: float32 weights, as run_glue trains (on a GPU, "auto" would
    # give bf16, where a step of lr 2e-5 on weights of ~0.05 rounds to no change at all)
    model = models.load_model(
        models.ModelSpec(path=model_path, dtype="float32"), kind="seq-cls", num_labels=n_labels, trainable=True
    )
    device = next(model.parameters()).device
    model.train()
    enc = _encode(tokenizer, train, columns, s.max_seq_length)
    labels = torch.tensor(train["label"].tolist(), dtype=torch.float32 if n_labels == 1 else torch.long)
    steps_per_epoch = math.ceil(len(train) / s.batch_size)
    total = max(1, math.ceil(steps_per_epoch * s.epochs))
    decay = [
        p for n, p in model.named_parameters() if not any(k in n for k in ("bias", "LayerNorm.weight", "layer_norm"))
    ]
    no_decay = [
        p for n, p in model.named_parameters() if any(k in n for k in ("bias", "LayerNorm.weight", "layer_norm"))
    ]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": s.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=s.learning_rate,
        betas=(0.9, 0.999),
        eps=1e-8,
    )
    sched = get_linear_schedule_with_warmup(opt, int(s.warmup_ratio * total), total)
    gen = torch.Generator().manual_seed(s.seed)
    step = 0
    progress = Progress(f"GLUE {task} fine-tuning", total, "steps")
    while step < total:
        for rows in torch.randperm(len(train), generator=gen).split(s.batch_size):
            batch = {k: v.to(device) for k, v in pad_encoded(enc, rows.tolist(), tokenizer.pad_token_id).items()}
            logits = model(**batch).logits
            target = labels[rows].to(device)
            if n_labels == 1:
                loss = torch.nn.functional.mse_loss(logits.squeeze(-1), target)
            else:
                loss = torch.nn.functional.cross_entropy(logits, target)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), s.max_grad_norm)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            progress.update(loss=float(loss.detach()))
            if step >= total:
                break
    progress.close()
    model.eval()
    results = {}
    with torch.no_grad():
        for split, frame in evals.items():
            enc_eval = _encode(tokenizer, frame, columns, s.max_seq_length)
            preds = [None] * len(frame)
            for rows in by_length([len(ids) for ids in enc_eval["input_ids"]], s.eval_batch_size):
                batch = {k: v.to(device) for k, v in pad_encoded(enc_eval, rows, tokenizer.pad_token_id).items()}
                logits = model(**batch).logits.float()
                for i, pred in zip(rows, (logits.squeeze(-1) if n_labels == 1 else logits.argmax(-1)).cpu().tolist()):
                    preds[i] = pred
            results[split] = (frame["label"].tolist(), preds)
    return results


def _base_for_classification(model_spec, adapter, tmp_dir):
    """A path `AutoModelForSequenceClassification` can load: the base, or the base with the adapter merged."""
    from debiaslab import models

    spec = models.ModelSpec.parse(model_spec)
    if adapter is None:
        return spec.path
    from debiaslab.evals.common import load_evaluated

    model, tokenizer = load_evaluated(spec, kind="auto", adapter=adapter, padding_side="right")
    model.merge_and_unload().save_pretrained(tmp_dir, safe_serialization=True)
    tokenizer.save_pretrained(tmp_dir)
    return str(tmp_dir)


def load_task(s: GlueSettings, task: str):
    from debiaslab.hub.datasets import load_split

    columns, _, splits = TASKS[task]
    required = (*columns, "label")
    train = load_split(s.dataset.path, task, "train", required=required)
    if s.max_train_samples:
        train = train.iloc[: s.max_train_samples]
    evals = {}
    for split in splits:
        frame = load_split(s.dataset.path, task, split, required=required)
        evals[split] = frame.iloc[: s.max_eval_samples] if s.max_eval_samples else frame
    return train, evals


def score_values(predictions: dict[str, dict[str, tuple[list, list]]], boot) -> list[dict]:
    """Rows split "validation", subset "all": glue_<task>_<metric> (MNLI mismatched: glue_mnli_mm_<metric>) and
    glue_score, from {task: {split: (labels, predictions)}}; each with replicates over the split's examples
    (`boot`: a core.statistics.Bootstrap; every task and split resampled on its own stream)."""
    import numpy as np

    values, main, examples = [], {}, 0
    for t, (task, by_split) in enumerate(predictions.items()):
        for k, (split, (labels, preds)) in enumerate(by_split.items()):
            labels, preds = np.asarray(labels), np.asarray(preds)
            examples += len(labels)
            stats = boot.of_statistic(
                lambda idx: task_metrics(task, labels[idx], preds[idx]),  # noqa: B023 - called in this iteration
                len(labels),
                stream=100 * (t + 1) + k,
            )
            prefix = f"glue_{task}_mm" if split == "validation_mismatched" else f"glue_{task}"
            values += [
                {"split": "validation", "subset": "all", "metric": f"{prefix}_{m}", **stat} for m, stat in stats.items()
            ]
            if k == 0:
                main[task] = stats
    score = glue_score({task: {m: stat["value"] for m, stat in stats.items()} for task, stats in main.items()})
    reps = np.mean(
        [np.mean([stat["replicates"] for stat in stats.values()], axis=0) for stats in main.values()], axis=0
    )
    values.append(
        {
            "split": "validation",
            "subset": "all",
            "metric": "glue_score",
            "value": score,
            "n": examples,
            "replicates": reps,
        }
    )
    return values


def evaluate(model_spec, settings: dict, run, out, *, adapter=None, projection=None, records_out=None) -> dict:
    """Stage entry: every configured task fine-tuned and scored; score-store rows to `out`."""
    import tempfile

    from debiaslab import models
    from debiaslab.core.config import ConfigError, build
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores

    s = build(GlueSettings, settings, "evaluations.glue")
    unknown = sorted(set(s.tasks) - set(TASKS))
    if unknown:
        raise ConfigError(f"evaluations.glue.tasks: unknown task(s) {unknown}; known: {', '.join(TASKS)}")
    if projection is not None:
        raise ConfigError("evaluations.glue: an INLP projection acts on a causal LM head; GLUE fine-tunes a masked LM")
    predictions = {}
    with tempfile.TemporaryDirectory(prefix="debiaslab-glue-") as tmp:
        path = _base_for_classification(model_spec, adapter, tmp)
        tokenizer = models.load_tokenizer(models.ModelSpec(path=path), padding_side="right")
        for task in s.tasks:
            train, evals = load_task(s, task)
            predictions[task] = fine_tune_and_predict(path, tokenizer, task, train, evals, s)
    values = score_values(predictions, Bootstrap(run.seed))
    write_scores(out, score_rows(run, values, settings))
    per_task = {v["metric"]: round(v["value"], 4) for v in values}
    return {"glue": per_task}
