"""Fine-tune a model toward a desired gender distribution per occupation
(docs/experiments/desired_distribution.md#method).

- `kl_equal`: loss = mean over the batch's occupations of KL([0.5, 0.5] ‖ [P_male, P_female]).
- `kl_real_world`: desired = [male_dist, female_dist]; batches hold one prof_gender category c;
  per category an EMA mean μ_c ← β·μ_c + (1−β)·L and a running variance
  var_c ← (n_prev·var_c + (L − μ_new)(L − μ_old)) / (n_prev + batch) track the batch loss L;
  L_norm = L / (μ_c + α_c) and λ = clamp(0.95·μ_c/(1+var_c), 0.8, 1.5) for "low" categories,
  clamp(1.2·μ_c/(1+var_c), 1.0, 1.5) otherwise. Masked LMs train on λ·L_norm + γ·L_MLM
  (L_MLM: token-weighted pseudo-log-likelihood loss of the batch's sentences, every token
  masked once, as the source); causal LMs on λ·L_norm.

Masked LMs are fully fine-tuned and saved as a complete Hub-format model folder
(safetensors + tokenizer); causal LMs train a LoRA adapter (the source: r 64, alpha 16–64,
dropout 0.2 on q/k/v/o/gate/up/down) saved as a PEFT adapter folder. AdamW, no scheduler,
no clipping, as the source. One epoch = every training occupation once (the source's
`create_batches`: grouped by category, shuffled within a category and then across batches).
After every epoch the mean validation KL decides early stopping (stop after `patience`
epochs without an improvement of at least `min_delta`) and the best epoch's weights are kept.

Where this follows the source's code rather than its paper, or departs from both
(docs/experiments/desired_distribution.md#deviations-from-the-source):
- `batchmean: true` (the source's setting) trains on, and stops early by, KL/2 — what
  `F.kl_div(..., reduction='batchmean')` returns for a 2-vector (so `min_delta` is a change of KL/2).
  `training_summary.json` reports the true KL under `*_kl` and, with batchmean, the halved value the
  trainer used under `*_half_kl`; `early_stopping_on` names the key early stopping compared.
- "Low" λ categories are per model kind: the source's MLM code uses the 0.95 rule for
  male_dominated only (α 1e-6; others 1e-5), its causal-LM code for male_ and female_dominated.
- `max_epochs` caps training; the source loops until early stopping.
- Training resumes from the last finished epoch (checkpoints outside the output).
"""

from __future__ import annotations

import logging
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from debiaslab.methods.common import LoraSettings

log = logging.getLogger(__name__)

CAUSAL_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LowLambdaCategories:
    mlm: tuple[str, ...] = ("male_dominated",)
    causal: tuple[str, ...] = ("male_dominated", "female_dominated")


@dataclass(frozen=True)
class KLSettings:
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    batch_size: int = 8  # occupations per training batch (all their templates × gendered words)
    eval_batch_size: int = 3  # occupations per validation forward pass (memory only)
    sentence_batch_size: int = 256  # sentences per forward pass
    max_length: int = 128
    min_delta: float = 1e-4
    patience: int = 5
    max_epochs: int = 100
    batchmean: bool = True
    gradient_checkpointing: bool = False
    lora: LoraSettings = field(
        default_factory=lambda: LoraSettings(r=64, alpha=32, dropout=0.2, target_modules=CAUSAL_TARGETS)
    )


@dataclass(frozen=True)
class RealWorldKLSettings(KLSettings):
    min_delta: float = 1e-3
    momentum: float = 0.95  # β of the per-category EMA (the source: 0.6, 0.8 or 0.95)
    gamma: float = 0.1  # weight of the MLM loss (masked LMs; the source sweeps 0.001–1)
    mlm_loss: str = "pll"  # "pll" (the source) or "masked" (15 % random masking, far cheaper)
    alpha_low: float = 1e-6
    alpha_high: float = 1e-5
    low_lambda_categories: LowLambdaCategories = field(default_factory=LowLambdaCategories)


# --- the adaptive weighting (pure, unit-tested) -----------------------------------------------


class KLTracker:
    """Per-category EMA mean and running variance of the batch KL loss (the source's KLTracker)."""

    def __init__(self, beta: float):
        self.beta = beta
        self.stats: dict[str, list[float]] = {}  # category → [mean, var, count]

    def update(self, category: str, value: float, batch_size: int) -> tuple[float, float]:
        if category not in self.stats:
            self.stats[category] = [float(value), 0.0, float(batch_size)]
        else:
            old_mean, old_var, count = self.stats[category]
            total = count + batch_size
            new_mean = self.beta * old_mean + (1.0 - self.beta) * value
            new_var = (count * old_var + (value - new_mean) * (value - old_mean)) / total
            self.stats[category] = [new_mean, new_var, total]
        mean, var, _ = self.stats[category]
        return mean, var

    def state(self) -> dict:
        return {"beta": self.beta, "stats": {k: list(v) for k, v in self.stats.items()}}

    @classmethod
    def from_state(cls, state: dict) -> KLTracker:
        tracker = cls(state["beta"])
        tracker.stats = {k: [float(x) for x in v] for k, v in state["stats"].items()}
        return tracker


def adaptive_lambda(category: str, mean: float, var: float, low_categories) -> float:
    """λ = clamp(0.95·μ/(1+var), 0.8, 1.5) for low categories, else clamp(1.2·μ/(1+var), 1.0, 1.5)."""
    if category in low_categories:
        return min(max(0.95 * mean / (1.0 + var), 0.8), 1.5)
    return min(max(1.2 * mean / (1.0 + var), 1.0), 1.5)


def adaptive_objective(loss, category: str, n: int, tracker: KLTracker, settings, low_categories):
    """λ·L_norm for one batch of `n` occupations of `category`, L_norm = L / (μ_c + α_c): the batch loss L
    first updates the category's tracker (μ_c, var_c), which then set λ (adaptive_lambda) and the divisor;
    α_c is `alpha_low` for the low-λ categories, else `alpha_high`. Returns (λ·L_norm, λ)."""
    mean, var = tracker.update(category, float(loss.detach()), n)
    alpha = settings.alpha_low if category in low_categories else settings.alpha_high
    lam = adaptive_lambda(category, mean, var, low_categories)
    return lam * loss / (mean + alpha), lam


def record_epoch(state: dict, valid_loss: float, min_delta: float) -> bool:
    """Early stopping's bookkeeping after an epoch: an improvement is a drop of at least `min_delta` below the
    best loss so far (which it then becomes); otherwise one more bad epoch. Returns whether it improved."""
    state["epoch"] += 1
    improved = state["best_loss"] - valid_loss >= min_delta
    if improved:
        state.update(best_loss=valid_loss, best_epoch=state["epoch"], bad_epochs=0)
    else:
        state["bad_epochs"] += 1
    return improved


def keep_training(state: dict, max_epochs: int, patience: int) -> bool:
    """Another epoch unless `max_epochs` ran or the last `patience` epochs brought no improvement."""
    return state["epoch"] < max_epochs and state["bad_epochs"] < patience


def kl_entries(prefix: str, kl: float, factor: float) -> dict:
    """The true KL under `<prefix>_kl`; where training halves it (batchmean), also KL/2 under `<prefix>_half_kl`."""
    return {f"{prefix}_kl": kl, **({f"{prefix}_half_kl": factor * kl} if factor != 1.0 else {})}


def category_batches(categories: list[str], batch_size: int, rng: random.Random | None):
    """Batches of occupation positions, one category each; shuffled when `rng` is given (training)."""
    grouped: dict[str, list[int]] = {}
    for i, category in enumerate(categories):
        grouped.setdefault(category, []).append(i)
    batches = []
    for category, items in grouped.items():
        if rng is not None:
            rng.shuffle(items)
        batches += [(items[s : s + batch_size], category) for s in range(0, len(items), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


# --- training ----------------------------------------------------------------------------------


def _trainable_state(model) -> dict:
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model, state: dict) -> None:
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value.to(params[name].device))


def _targets(scorer, desired: str):
    import torch

    from debiaslab.metrics.distribution_kl import desired_male

    male = torch.tensor(desired_male(desired, scorer.occupations["male_dist"].to_numpy()), dtype=torch.float32)
    return torch.stack([male, 1.0 - male], dim=1)


def _validation_kl(scorer, targets, batch_size: int) -> float:
    """Mean (true) KL over the validation occupations."""
    import torch

    from debiaslab.core.progress import track
    from debiaslab.metrics.distribution_kl import kl_divergence_torch

    total = 0.0
    batches = category_batches(list(scorer.occupations["prof_gender"]), batch_size, None)
    with torch.no_grad():
        for positions, _ in track(batches, "validation KL", quiet=True):
            probs, _ = scorer.probabilities(positions)
            total += float(kl_divergence_torch(targets[positions].to(probs.device), probs).sum())
    return total / len(scorer.occupations)


def mlm_loss_backward(model, ids, attn, real, weight: float, chunk: int, mask_token_id: int, how: str) -> float:
    """Backpropagate weight · L_MLM of these (unmasked) sentences, in chunks; return L_MLM. `real` marks the
    tokens that may be masked (not special, not padding): the trainer passes γ as the weight.

    how = "pll": every token masked once, one copy per token (the source's `get_mlm_loss`);
    "masked": ⌊15 %⌋ of each sentence's tokens masked at random (one copy per sentence; cheaper).
    Either way L_MLM is the token-weighted mean NLL of the masked tokens, so chunking is exact.
    """
    import torch
    import torch.nn.functional as F

    from debiaslab.core.batching import trimmed_batches
    from debiaslab.models import head_on, mask_choice

    if how == "pll":  # one copy of a sentence per real (non-special) token, that token masked
        sentence, cols = torch.nonzero(real, as_tuple=True)
        ids, attn, rows = ids[sentence].clone(), attn[sentence], torch.arange(len(sentence))
    else:  # one copy per sentence, ⌊15 %⌋ of its real tokens masked
        pairs = [(r, c) for r in range(len(ids)) for c in mask_choice(torch.nonzero(real[r]).flatten().tolist(), 0.15)]
        rows, cols = (torch.tensor(x, dtype=torch.long) for x in zip(*pairs))
        ids = ids.clone()
    labels = torch.full_like(ids, -100)
    labels[rows, cols] = ids[rows, cols]
    ids[rows, cols] = mask_token_id
    device = next(model.parameters()).device
    total_tokens, total = int((labels != -100).sum()), 0.0
    copies = {"input_ids": ids, "attention_mask": attn, "labels": labels}
    for _, (c_ids, c_attn, target) in trimmed_batches(copies, ("input_ids", "attention_mask", "labels"), chunk):
        target = target.to(device)
        with head_on(model, target != -100):  # the vocabulary projection at the masked tokens only
            logits = model(input_ids=c_ids.to(device), attention_mask=c_attn.to(device)).logits[0]
        nll = F.cross_entropy(logits.float(), target[target != -100], reduction="sum")
        (weight * nll / total_tokens).backward()
        total += nll.item()
    return total / total_tokens


def _save_checkpoint(path: Path, state: dict) -> None:
    import torch

    from debiaslab.core.io import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path) -> dict | None:
    import torch

    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def train_desired_kl(
    model_spec, data_path, settings: KLSettings, seed: int, out_dir, checkpoint_root, *, desired: str, adaptive: bool
) -> dict:
    import torch

    from debiaslab import models
    from debiaslab.core.io import atomic_path, write_json
    from debiaslab.core.progress import Progress
    from debiaslab.data.desired_distribution import read_sentences
    from debiaslab.methods.common import checkpoint_dir_for
    from debiaslab.metrics.distribution_kl import SentenceScorer, kl_divergence_torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    spec = models.ModelSpec.parse(model_spec)
    kind = spec.kind if spec.kind != "auto" else models.infer_kind(spec)
    tokenizer = models.load_tokenizer(spec, padding_side="right")
    # a masked LM is fully fine-tuned by plain AdamW, so its weights load in float32 whatever the spec's dtype
    # (in bf16 a step of lr 2e-5 rounds to no change); a causal LM trains LoRA adapters, which PEFT keeps in
    # float32 over a bf16 base
    model = models.load_model(spec, kind=kind, trainable=True, **({"dtype": torch.float32} if kind == "mlm" else {}))
    if kind == "causal":
        from peft import get_peft_model

        model = get_peft_model(model, models.lora_config(asdict(settings.lora), model=model))
        model.config.use_cache = False
    elif kind == "mlm":
        for p in model.parameters():
            p.requires_grad_(True)
    else:
        raise ValueError(f"model {spec.path}: desired-distribution training needs an mlm or causal model, got {kind!r}")
    if settings.gradient_checkpointing:
        model.gradient_checkpointing_enable()

    train = SentenceScorer(
        model, tokenizer, kind, read_sentences(data_path, "train"), settings.max_length, settings.sentence_batch_size
    )
    valid = SentenceScorer(
        model, tokenizer, kind, read_sentences(data_path, "valid"), settings.max_length, settings.sentence_batch_size
    )
    train_targets, valid_targets = _targets(train, desired), _targets(valid, desired)
    categories = list(train.occupations["prof_gender"])
    factor = 0.5 if settings.batchmean else 1.0
    low = getattr(settings, "low_lambda_categories", LowLambdaCategories())
    low = low.mlm if kind == "mlm" else low.causal
    gamma = getattr(settings, "gamma", 0.0) if kind == "mlm" else 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)

    checkpoint_dir = checkpoint_dir_for(checkpoint_root, spec.path, settings, seed, str(data_path), desired, adaptive)
    checkpoint = checkpoint_dir / "state.pt"
    tracker = KLTracker(getattr(settings, "momentum", 1.0))
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "bad_epochs": 0, "history": []}
    best_weights = None
    saved = _load_checkpoint(checkpoint)
    if saved is not None:
        _load_trainable(model, saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        best_weights = saved["best"]
        tracker = KLTracker.from_state(saved["tracker"])
        state = saved["state"]
        rng.setstate(saved["python_rng"])
        torch.set_rng_state(saved["torch_rng"])
        if saved.get("cuda_rng") is not None and torch.cuda.is_available():  # dropout on a GPU draws from these
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
    resumed_from = state["epoch"] if saved is not None else None
    if saved is None:  # the unmodified model's validation KL, for the record (as the source, epoch 1 is always kept)
        model.eval()
        state["history"].append(
            {"epoch": 0, **kl_entries("valid", _validation_kl(valid, valid_targets, settings.eval_batch_size), factor)}
        )
        log.info(
            "before training: validation KL %.4g (%d training occupations, %d validation)",
            state["history"][0]["valid_kl"],
            len(categories),
            len(valid.occupations),
        )

    while keep_training(state, settings.max_epochs, settings.patience):
        model.train()
        sums = {"loss": 0.0, "kl": 0.0, "mlm": 0.0, "lambda": 0.0}
        batches = category_batches(categories, settings.batch_size, rng)
        progress = Progress(f"train kl_{desired} epoch {state['epoch'] + 1}", len(batches), "batches")
        for positions, category in batches:
            probs, _ = train.probabilities(positions, grad=True)
            loss = factor * kl_divergence_torch(train_targets[positions].to(probs.device), probs).mean()
            optimizer.zero_grad(set_to_none=True)
            if adaptive:
                total, lam = adaptive_objective(loss, category, len(positions), tracker, settings, low)
                sums["lambda"] += lam
            else:
                total = loss
            total.backward()
            if gamma > 0:
                rows = torch.tensor(train.rows_of(positions))
                enc = train.encoded
                sums["mlm"] += mlm_loss_backward(
                    model,
                    enc["input_ids"][rows],
                    enc["attention_mask"][rows],
                    enc["real"][rows],
                    gamma,
                    settings.sentence_batch_size,
                    tokenizer.mask_token_id,
                    settings.mlm_loss,
                )
            optimizer.step()
            sums["kl"] += float(loss.detach()) / factor
            sums["loss"] += float(total.detach())
            progress.update(loss=float(total.detach()))
        progress.close()
        model.eval()
        valid_kl = _validation_kl(valid, valid_targets, settings.eval_batch_size)
        if record_epoch(state, factor * valid_kl, settings.min_delta):  # early stopping compares KL/2 with batchmean
            best_weights = _trainable_state(model)
        means = {k: v / len(batches) for k, v in sums.items()}
        state["history"].append(
            {
                "epoch": state["epoch"],
                **kl_entries("valid", valid_kl, factor),
                "train_loss": means["loss"],
                **kl_entries("train", means["kl"], factor),
                "train_mlm": means["mlm"],
                "train_lambda": means["lambda"],
                "tracker": tracker.state()["stats"],
            }
        )
        log.info(
            "epoch %d/%d: train loss %.4g, validation KL %.4g (best %.4g at epoch %d; %d without improvement)",
            state["epoch"],
            settings.max_epochs,
            means["loss"],
            valid_kl,
            state["best_loss"] / factor,
            state["best_epoch"],
            state["bad_epochs"],
        )
        _save_checkpoint(
            checkpoint,
            {
                "model": _trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "best": best_weights,
                "tracker": tracker.state(),
                "state": state,
                "python_rng": rng.getstate(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        )

    _load_trainable(model, best_weights)
    model.eval()
    summary = {
        "method": f"kl_{desired}",
        "desired": desired,
        "adaptive": adaptive,
        "kind": kind,
        "seed": seed,
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        **kl_entries("best_valid", state["best_loss"] / factor, factor),
        "early_stopping_on": "valid_half_kl" if factor != 1.0 else "valid_kl",
        "stopped_early": state["bad_epochs"] >= settings.patience,
        "resumed_from_epoch": resumed_from,
        "train_occupations": len(categories),
        "valid_occupations": len(valid.occupations),
        "history": state["history"],
    }
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        if kind == "mlm":
            tokenizer.save_pretrained(str(tmp))
        write_json(tmp / "training_summary.json", summary)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return {k: v for k, v in summary.items() if k != "history"}


def load_trained(model_spec, trained: str | Path | None, *, padding_side: str = "right"):
    """(model, tokenizer, kind) for a base model, a fully fine-tuned folder, or base + LoRA adapter folder."""
    from debiaslab import models
    from debiaslab.evals.common import load_evaluated
    from debiaslab.models import apply_trained

    spec, adapter = apply_trained(model_spec, trained)
    spec = models.ModelSpec.parse(spec)
    kind = spec.kind if spec.kind != "auto" else models.infer_kind(spec)
    model, tokenizer = load_evaluated(spec, kind=kind, adapter=adapter, padding_side=padding_side)
    return model, tokenizer, kind
