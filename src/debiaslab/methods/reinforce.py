"""REINFORCE on a LoRA adapter with the GenBit + KL reward (docs/experiments/reward_guided.md#method),
small and explicit.

Each step: take `batch_size` prompts; in microbatches of `micro_batch_size`, sample from the
LoRA policy (adapter on, no gradient) and measure each sample's bias and KL to the base (the
adapter disabled); R = −(|GenBit avg_bias_ratio| + λ_KL·KL); then, microbatch by microbatch,
accumulate the gradient of

    L = −(1/B) Σ_i (R_i − b_i) · log p_i        (R detached; b the baseline)

and take one AdamW step on the adapter's parameters.

The source code has three defects; this trainer implements the method as the paper states it:
(a) its loss was +mean(log p · R): minimising it *raises* the probability of high-|R|, i.e. the
    most biased, samples. Here L = −mean((R − b) · log p) with R detached, so descending L moves
    probability toward higher-reward samples; `baseline` (none — the paper's formula —, the
    batch mean, or leave-one-out) only lowers the variance.
(b) it computed KL(base‖lora) where the paper says KL(lora‖base): `kl_direction` is a setting,
    default the paper's (`policy_base`).
(c) it applied an autoregressive shift to a bidirectional model's log-probabilities: for a
    masked-diffusion model log p is the sum over the sampled trajectory's unmasking steps of the
    log-probabilities of the tokens chosen at each step (methods.policy).

What descending L does depends on how the samples were drawn (`estimator`, recorded in the summary):
at T = 1 it is REINFORCE's score-function estimate of −∇E[R] (causal LMs; masked-diffusion models with
`random` remasking); at other T > 0, or with `low_confidence` remasking — whose unmasking order depends
on the drawn tokens' probabilities, which log p leaves out — it is the paper's surrogate. At T = 0 the
policy samples by argmax: every rollout is the greedy answer, E[R] is flat almost everywhere, and L is a
deterministic-policy update — with the paper's baseline (none) and R ≤ 0 it lowers the log-probability
of each greedy answer in proportion to its penalty |R| (an unlikelihood step on the model's own answers)
until the argmax moves to another answer; with a batch-mean baseline only answers scoring apart from
the batch move. T = 0 is trained, as the source did (its grid is 0/0.7/1).

Per-step metrics (loss, mean bias, mean KL, mean reward, gendered-pronoun and neutral-option
rates) go to `training_metrics.csv` in the adapter folder. A killed job resumes from the last
checkpoint (adapter, optimizer, step and metrics so far) under `checkpoints`.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from debiaslab.methods.common import LoraSettings
from debiaslab.methods.policy import PolicySampling
from debiaslab.methods.reward import RewardSettings

log = logging.getLogger(__name__)

BASELINES = ("none", "batch_mean", "leave_one_out")
# LLaDA names its attention output projection attn_out (the paper's targets: q, k, v, attn_out); causal
# LMs call it o_proj. PEFT adapts whichever of these names a model has.
REWARD_GUIDED_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "attn_out")
METRIC_COLUMNS = (
    "step",
    "epoch",
    "loss",
    "mean_bias",
    "mean_kl",
    "mean_reward",
    "gendered_pronoun_rate",
    "neutral_option_rate",
    "learning_rate",
    "seconds",
    "lemmatizer",
)


@dataclass(frozen=True)
class ReinforceSettings:
    """TRL-style trainer config. Defaults: the source's full-scale values (docs/experiments/reward_guided.md#method)."""

    learning_rate: float = 2e-5
    batch_size: int = 64
    micro_batch_size: int = 8
    epochs: float = 1
    max_steps: int = -1  # > 0 overrides epochs
    baseline: str = "none"  # none (the paper's formula) | batch_mean | leave_one_out
    weight_decay: float = 0.0
    max_grad_norm: float = 0.0  # 0: no clipping (the source states none)
    save_steps: int = 50
    dataset_size: int = 1000  # grid: the nested training subset
    temperature: float = 0.0  # grid: the sampling temperature
    lora: LoraSettings = field(
        default_factory=lambda: LoraSettings(r=4, alpha=8, dropout=0.1, target_modules=REWARD_GUIDED_TARGETS)
    )
    reward: RewardSettings = field(default_factory=RewardSettings)
    generation: PolicySampling = field(default_factory=PolicySampling)

    def check(self) -> None:
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline must be one of {BASELINES}, got {self.baseline!r}")
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size ({self.micro_batch_size})"
            )
        if self.baseline == "leave_one_out" and self.batch_size < 2:
            raise ValueError("a leave-one-out baseline needs batch_size >= 2")


def baseline_values(rewards, kind: str):
    """b_i: 0 (none), the batch mean, or the mean of the *other* samples' rewards (leave-one-out)."""
    import torch

    if kind == "none":
        return torch.zeros_like(rewards)
    if kind == "batch_mean":
        return rewards.mean().expand_as(rewards)
    if kind == "leave_one_out":
        n = rewards.numel()
        return (rewards.sum() - rewards) / (n - 1)
    raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")


def advantages(rewards, kind: str):
    """R − b with R detached: the reward is a number the policy is scored by, not a function of its weights."""
    rewards = rewards.detach()
    return rewards - baseline_values(rewards, kind)


def reinforce_loss(logp, rewards, baseline: str = "none"):
    """L = −mean((R − b) · log p); its gradient is −mean((R − b) · ∇log p), the REINFORCE estimator."""
    return -(advantages(rewards, baseline) * logp).mean()


def estimator(temperature: float, diffusion: bool = False, remasking: str = "low_confidence") -> str:
    """What −(R − b)·∇log p is at this sampling setting (module docstring): "deterministic_policy" at T = 0,
    "score_function" at T = 1 where log p is the sampler's own (causal LMs, `random` remasking), else "surrogate"."""
    if temperature == 0:
        return "deterministic_policy"
    if temperature == 1 and not (diffusion and remasking == "low_confidence"):
        return "score_function"
    return "surrogate"


def batch_schedule(n: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Prompt indices of every step: consecutive slices of one seeded permutation per epoch."""
    import torch

    stream: list[int] = []
    epoch = 0
    while len(stream) < steps * batch_size:
        gen = torch.Generator().manual_seed(seed * 1009 + epoch)
        stream += torch.randperm(n, generator=gen).tolist()
        epoch += 1
    return [stream[s * batch_size : (s + 1) * batch_size] for s in range(steps)]


def total_steps(settings: ReinforceSettings, n: int) -> int:
    if settings.max_steps > 0:
        return settings.max_steps
    return max(1, math.ceil(settings.epochs * n / settings.batch_size))


def response_flags(texts: list[str]) -> tuple[list[bool], list[bool]]:
    from debiaslab.data.mcq import NEUTRAL_OPTIONS, chosen_option, has_gendered_pronoun

    gendered = [has_gendered_pronoun(t) for t in texts]
    neutral = [chosen_option(t) in NEUTRAL_OPTIONS for t in texts]
    return gendered, neutral


def rollout_batch(policy, reward, inputs: list[str], temperature: float, micro_batch_size: int, seed: int):
    """Sample every prompt of a batch (microbatch by microbatch); returns rollouts with their batch positions,
    and the batch's texts, bias, KL and reward in batch order."""
    import torch

    rollouts, texts, kl = [], [None] * len(inputs), [0.0] * len(inputs)
    for k, start in enumerate(range(0, len(inputs), micro_batch_size)):
        micro = inputs[start : start + micro_batch_size]
        for r in policy.rollout(micro, temperature, seed=seed * 1000 + k):
            positions = [start + i for i in r.order]
            rollouts.append((positions, r))
            for p, text, value in zip(positions, r.texts, r.kl.tolist()):
                texts[p], kl[p] = text, value
    scored = reward(texts, kl)
    return rollouts, texts, {k: torch.tensor(v, dtype=torch.float32) for k, v in scored.items()}


class Checkpoint:
    """Resume state (adapter weights, optimizer, step, metrics so far) in one file, written atomically;
    read back with weights_only=True (tensors and plain values, nothing unpickled)."""

    def __init__(self, directory: Path):
        self.path = directory / "state.pt"

    def load(self):
        import torch

        return torch.load(self.path, weights_only=True) if self.path.is_file() else None

    def save(self, state: dict) -> None:
        import torch

        from debiaslab.core.io import atomic_path

        with atomic_path(self.path) as tmp:
            torch.save(state, tmp)


def train_reinforce(model_spec, data_path, settings: ReinforceSettings, seed: int, out_dir, checkpoint_root) -> dict:
    import shutil

    import torch
    from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

    from debiaslab import models
    from debiaslab.core.io import atomic_path, read_table, write_json, write_text
    from debiaslab.core.progress import Progress
    from debiaslab.data.mcq import train_subset
    from debiaslab.methods.common import StopOnSignal, checkpoint_dir_for
    from debiaslab.methods.policy import make_policy, model_inputs
    from debiaslab.methods.reward import Reward

    settings.check()
    spec = models.ModelSpec.parse(model_spec)
    rows = train_subset(read_table(data_path, required=["split", "rank", "prompt", "question"]), settings.dataset_size)
    torch.manual_seed(seed)
    tokenizer = models.load_tokenizer(spec, padding_side="left")
    base = models.load_model(spec)
    task = None if spec.diffusion else "CAUSAL_LM"
    model = get_peft_model(base, models.lora_config(asdict(settings.lora), task_type=task, model=base))
    policy = make_policy(model, tokenizer, spec, settings.generation, settings.reward.kl_direction)
    reward = Reward(settings.reward)
    inputs = model_inputs(tokenizer, rows, settings.generation)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps = total_steps(settings, len(inputs))
    schedule = batch_schedule(len(inputs), settings.batch_size, steps, seed)

    checkpoint_dir = checkpoint_dir_for(checkpoint_root, spec.path, settings, seed, str(data_path))
    checkpoint = Checkpoint(checkpoint_dir)
    history: list[dict] = []
    start_step = 0
    state = checkpoint.load()
    if state is not None:
        set_peft_model_state_dict(model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        history, start_step = state["history"], state["step"]

    began = time.perf_counter()
    progress = Progress("train reinforce", steps, "steps", done=start_step)
    stopper = StopOnSignal()  # SLURM's SIGTERM (preemption, time limit): checkpoint the step in hand, then stop
    stopper.install()
    try:
        for step in range(start_step, steps):
            batch = [inputs[i] for i in schedule[step]]
            model.eval()  # sample and score without dropout
            rollouts, texts, scored = rollout_batch(
                policy, reward, batch, settings.temperature, settings.micro_batch_size, seed * 100_003 + step
            )
            adv = advantages(scored["reward"], settings.baseline)
            model.train()
            optimizer.zero_grad(set_to_none=True)
            loss_value = 0.0
            for positions, rollout in rollouts:
                a = adv[positions].to(rollout.kl.device)
                for chunk in policy.logprob_chunks(rollout):
                    # Σ over microbatches and chunks of −(R − b)·log p / B = reinforce_loss over the whole batch
                    loss = -(a * chunk).sum() / len(batch)
                    loss.backward()
                    loss_value += loss.item()
            if settings.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            optimizer.step()
            gendered, neutral = response_flags(texts)
            history.append(
                {
                    "step": step + 1,
                    "epoch": (step + 1) * settings.batch_size / len(inputs),
                    "loss": loss_value,
                    "mean_bias": float(scored["bias"].mean()),
                    "mean_kl": float(scored["kl"].mean()),
                    "mean_reward": float(scored["reward"].mean()),
                    "gendered_pronoun_rate": sum(gendered) / len(texts),
                    "neutral_option_rate": sum(neutral) / len(texts),
                    "learning_rate": settings.learning_rate,
                    "seconds": time.perf_counter() - began,
                    "lemmatizer": reward.lemmatizer,
                }
            )
            progress.update(
                loss=loss_value, reward=history[-1]["mean_reward"], gendered_rate=history[-1]["gendered_pronoun_rate"]
            )
            signalled = stopper.stop_now()
            if ((step + 1) % settings.save_steps == 0 or signalled) and step + 1 < steps:
                checkpoint.save(
                    {
                        "adapter": get_peft_model_state_dict(model),
                        "optimizer": optimizer.state_dict(),
                        "history": history,
                        "step": step + 1,
                    }
                )
                if signalled:
                    log.warning(
                        "received %s: checkpointed step %d in %s, stopping; rerun to resume",
                        signal.Signals(stopper.received).name,
                        step + 1,
                        checkpoint_dir,
                    )
                    raise SystemExit(128 + stopper.received)
    finally:
        stopper.uninstall()
    progress.close()

    import pandas as pd

    metrics = pd.DataFrame(history, columns=list(METRIC_COLUMNS))
    first, last = history[0], history[-1]
    summary = {
        "method": "reinforce",
        "seed": seed,
        "steps": steps,
        "dataset_size": len(inputs),
        "temperature": settings.temperature,
        "baseline": settings.baseline,
        "estimator": estimator(settings.temperature, spec.diffusion, settings.generation.remasking),
        "kl_direction": settings.reward.kl_direction,
        "lemmatizer": reward.lemmatizer,
        "resumed_from_step": start_step or None,
        "diffusion": spec.diffusion,
        "first_step": {k: first[k] for k in ("mean_bias", "mean_kl", "mean_reward", "gendered_pronoun_rate")},
        "last_step": {k: last[k] for k in ("mean_bias", "mean_kl", "mean_reward", "gendered_pronoun_rate")},
    }
    with atomic_path(out_dir, directory=True) as tmp:
        model.save_pretrained(str(tmp))
        write_json(tmp / "training_summary.json", summary)
        write_text(tmp / "training_metrics.csv", metrics.to_csv(index=False, float_format="%.6g"))
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return summary
