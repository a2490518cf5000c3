"""TRL's RLOOTrainer with the `reward_guided` reward: the off-the-shelf comparison to `reinforce`.

The reward function is the same as the REINFORCE trainer's (methods.reward): per completion,
R = −(|GenBit avg_bias_ratio| + λ_KL · KL) with the full-vocabulary token-wise KL to the base
(the adapter disabled) averaged over the completion's positions. TRL's own KL penalty (`beta`,
a sampled-token log-ratio summed over the sequence) is therefore switched off (beta = 0) so the
KL enters once, as in `reinforce`. What differs is TRL's algorithm: `num_generations` samples per
prompt with the leave-one-out baseline among them, log-probabilities at the sampling temperature,
and its clipped-ratio loss (a no-op with one iteration per batch).

Causal LMs only: RLOOTrainer samples with `generate()`, which a masked-diffusion model has no
use for (rules skip rloo for `diffusion` models), and temperature > 0 (TRL divides the logits by it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from debiaslab.methods.common import LoraSettings
from debiaslab.methods.policy import PolicySampling
from debiaslab.methods.reinforce import METRIC_COLUMNS, REWARD_GUIDED_TARGETS
from debiaslab.methods.reward import RewardSettings


@dataclass(frozen=True)
class RLOOSettings:
    learning_rate: float = 2e-5
    batch_size: int = 64  # completions per optimizer step
    micro_batch_size: int = 8
    num_generations: int = 2  # completions per prompt (the leave-one-out group)
    epochs: float = 1
    max_steps: int = -1
    weight_decay: float = 0.0
    max_grad_norm: float = 0.0
    save_steps: int = 50
    dataset_size: int = 1000
    temperature: float = 1.0
    lora: LoraSettings = field(
        default_factory=lambda: LoraSettings(r=4, alpha=8, dropout=0.1, target_modules=REWARD_GUIDED_TARGETS)
    )
    reward: RewardSettings = field(default_factory=RewardSettings)
    generation: PolicySampling = field(default_factory=PolicySampling)


class RLOOReward:
    """TRL reward callable: the reward_guided reward of each completion, plus its parts as logged metrics."""

    __name__ = "genbit_kl_reward"

    def __init__(self, settings: RewardSettings, tokenizer, max_new_tokens: int):
        from debiaslab.methods.reward import Reward

        self.reward = Reward(settings)
        self.tokenizer = tokenizer
        self.settings = settings
        self.max_new_tokens = max_new_tokens
        self.model = None  # the trainer's (PEFT) model, set once the trainer has wrapped it
        self.history: list[dict] = []

    def prompt_ids(self, prompts) -> list[list[int]]:
        """Prompt tokens exactly as RLOOTrainer._tokenize_prompts makes them."""
        if isinstance(prompts[0], list):
            return self.tokenizer.apply_chat_template(
                prompts, add_generation_prompt=True, tokenize=True, return_dict=True
            )["input_ids"]
        return self.tokenizer(text=prompts)["input_ids"]

    def __call__(self, prompts, completions, completion_ids, log_metric=None, **kwargs) -> list[float]:
        from debiaslab.methods.policy import CausalPolicy
        from debiaslab.methods.reinforce import response_flags

        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        policy = CausalPolicy(self.model, self.tokenizer, self.max_new_tokens, self.settings.kl_direction)
        was_training = self.model.training
        self.model.eval()
        try:
            kl, _ = policy.kl(policy.batch(self.prompt_ids(prompts), [list(c) for c in completion_ids]))
        finally:
            self.model.train(was_training)
        scored = self.reward(texts, kl.tolist())
        gendered, neutral = response_flags(texts)
        parts = {
            "mean_bias": sum(scored["bias"]) / len(texts),
            "mean_kl": sum(scored["kl"]) / len(texts),
            "mean_reward": sum(scored["reward"]) / len(texts),
            "gendered_pronoun_rate": sum(gendered) / len(texts),
            "neutral_option_rate": sum(neutral) / len(texts),
        }
        self.history.append(parts)
        if log_metric is not None:
            for name, value in parts.items():
                log_metric(name, value)
        return scored["reward"]


def train_rloo(model_spec, data_path, settings: RLOOSettings, seed: int, out_dir, checkpoint_root) -> dict:
    import shutil

    import pandas as pd
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    from debiaslab import models
    from debiaslab.core.config import ConfigError
    from debiaslab.core.io import atomic_path, read_table, write_json, write_text
    from debiaslab.core.progress import trainer_callback
    from debiaslab.data.mcq import train_subset
    from debiaslab.methods.common import checkpoint_dir_for, last_checkpoint, trainer_arguments

    spec = models.ModelSpec.parse(model_spec)
    if spec.diffusion:
        raise ConfigError(f"rloo: {spec.path} is a masked-diffusion model; TRL's RLOOTrainer samples with generate()")
    if settings.temperature <= 0:
        raise ConfigError("rloo: temperature must be > 0 (RLOOTrainer samples and divides logits by it)")
    if settings.batch_size % settings.micro_batch_size or settings.batch_size % settings.num_generations:
        raise ConfigError(
            f"rloo: batch_size ({settings.batch_size}) must be a multiple of micro_batch_size "
            f"({settings.micro_batch_size}) and of num_generations ({settings.num_generations})"
        )
    rows = train_subset(read_table(data_path, required=["split", "rank", "prompt", "question"]), settings.dataset_size)
    if settings.generation.chat:
        system = (
            [{"role": "system", "content": settings.generation.system_prompt}]
            if settings.generation.system_prompt
            else []
        )
        prompts = [system + [{"role": "user", "content": q}] for q in rows["question"]]
    else:
        prompts = list(rows["prompt"])
    dataset = Dataset.from_dict({"prompt": prompts})
    tokenizer = models.load_tokenizer(spec, padding_side="left")
    model = models.load_model(spec)
    checkpoint_dir = checkpoint_dir_for(checkpoint_root, spec.path, settings, seed, str(data_path))
    args = trainer_arguments(
        checkpoint_dir=checkpoint_dir,
        seed=seed,
        learning_rate=settings.learning_rate,
        epochs=settings.epochs,
        batch_size=settings.micro_batch_size,
        gradient_accumulation_steps=settings.batch_size // settings.micro_batch_size,
        weight_decay=settings.weight_decay,
        save_steps=settings.save_steps,
        logging_steps=1,
        max_steps=settings.max_steps,
    )
    args["lr_scheduler_type"] = "constant"  # as `reinforce` (the source states a fixed AdamW learning rate)
    config = RLOOConfig(
        **args,
        num_generations=settings.num_generations,
        max_completion_length=settings.generation.max_new_tokens,
        temperature=settings.temperature,
        top_p=1.0,
        top_k=0,
        beta=0.0,
        max_grad_norm=settings.max_grad_norm or 1e9,
    )
    reward = RLOOReward(settings.reward, tokenizer, settings.generation.max_new_tokens)
    trainer = RLOOTrainer(
        model=model,
        reward_funcs=reward,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=models.lora_config(asdict(settings.lora), model=model),
    )
    reward.model = trainer.model
    trainer.add_callback(trainer_callback("train rloo"))
    resume = last_checkpoint(checkpoint_dir)
    trainer.train(resume_from_checkpoint=resume)
    steps = [row for row in trainer.state.log_history if "loss" in row and "mean_reward" in row]
    metrics = pd.DataFrame(
        [
            {
                "step": row["step"],
                "epoch": row.get("epoch"),
                "loss": row["loss"],
                **{
                    k: row[k]
                    for k in ("mean_bias", "mean_kl", "mean_reward", "gendered_pronoun_rate", "neutral_option_rate")
                },
                "learning_rate": row.get("learning_rate"),
                "seconds": row.get("step_time"),
                "lemmatizer": reward.reward.lemmatizer,
            }
            for row in steps
        ],
        columns=list(METRIC_COLUMNS),
    )
    metrics["seconds"] = metrics["seconds"].cumsum()
    summary = {
        "method": "rloo",
        "seed": seed,
        "steps": trainer.state.global_step,
        "dataset_size": len(dataset),
        "temperature": settings.temperature,
        "num_generations": settings.num_generations,
        "kl_direction": settings.reward.kl_direction,
        "lemmatizer": reward.reward.lemmatizer,
        "resumed_from": Path(resume).name if resume else None,
    }
    with atomic_path(out_dir, directory=True) as tmp:
        trainer.model.save_pretrained(str(tmp))
        write_json(tmp / "training_summary.json", summary)
        write_text(tmp / "training_metrics.csv", metrics.to_csv(index=False, float_format="%.6g"))
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return summary
