"""Forget-LoRA: fit a reward model's *undesired* preference, then subtract it (docs/experiments/rm_forget.md#method).

Training: TRL's RewardTrainer with a PEFT LoRA (q, k, v, o) on one pair mode's pairs with
chosen and rejected swapped (`direction: undesired`), i.e. Bradley–Terry loss
−log σ(r(rejected) − r(chosen)): the adapter learns the bias direction ΔW = (α/r)·B·A.
Inference: every LoRA scaling is set to −λ·α/r (`subtracted`, via PEFT's
`rescale_adapter_scale` with multiplier −λ), so the model computes W − λ·(α/r)·B·A in
every adapted layer; λ = 0 is the base reward model exactly.

The score head. PEFT's SEQ_CLS task type always adds the head (`score`/`classifier`) to
`modules_to_save`, i.e. trains a full copy of it that no LoRA scaling touches: λ would
then not scale or subtract the head's change, and `disable_adapter()` would also swap the
head back — the "subtracted" model would mix a base-minus-ΔW body with a trained head.
So the adapter is created without a task type and with no `modules_to_save`: the head
stays frozen at the base reward model's weights, ΔW lives only in q, k, v, o, and
"base − λ·ΔW" is literally what the model computes (tests/test_forget_lora.py checks it
against hand-built weights). A config that puts a module in `modules_to_save` is refused.

Base reward model: any sequence-classification model by name/path, optionally with a
PEFT reward adapter (`base_adapter`, e.g. a LoRA reward head on an instruct model),
which is merged into the weights first so the forget-LoRA's W is the reward model's.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from debiaslab.methods.common import LoraSettings

PAIR_MODES = ("style", "correctness", "cross")
DIRECTIONS = ("undesired", "desired")


@dataclass(frozen=True)
class ForgetLoRASettings:
    pair_mode: str = "style"
    # undesired: chosen/rejected swapped (the source's `--direction undesired`); desired: as built
    direction: str = "undesired"
    base_adapter: str | None = None
    learning_rate: float = 1e-5
    epochs: float = 3
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 1024  # TRL drops pairs longer than this
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    save_steps: int = 500
    # TRL zeroes every dropout by default; off here so the configured LoRA dropout acts.
    disable_dropout: bool = False
    lora: LoraSettings = field(default_factory=lambda: LoraSettings(dropout=0.05))


def check_settings(s: ForgetLoRASettings, where: str = "forget_lora") -> None:
    from debiaslab.core.config import ConfigError

    if s.pair_mode not in PAIR_MODES:
        raise ConfigError(f"{where}.pair_mode: {s.pair_mode!r} is not allowed; allowed: {', '.join(PAIR_MODES)}")
    if s.direction not in DIRECTIONS:
        raise ConfigError(f"{where}.direction: {s.direction!r} is not allowed; allowed: {', '.join(DIRECTIONS)}")
    if s.lora.modules_to_save:
        raise ConfigError(
            f"{where}.lora.modules_to_save: must be empty — a saved module is neither scaled nor "
            f"subtracted, so base − λ·ΔW would not hold (got {list(s.lora.modules_to_save)})"
        )


def load_reward_model(spec, base_adapter: str | None = None, *, tokenizer=None, trainable: bool = False):
    """The base reward model (a PEFT reward adapter merged in, if given), pad id set for its head."""
    from debiaslab import models

    model = models.load_model(spec, trainable=trainable)
    if base_adapter:
        model = models.attach_adapter(model, base_adapter).merge_and_unload()
    if getattr(model.config, "num_labels", None) != 1:
        from debiaslab.core.config import ConfigError

        raise ConfigError(
            f"model {models.ModelSpec.parse(spec).path}: a reward model needs one output "
            f"(num_labels=1), got num_labels={model.config.num_labels}"
        )
    if tokenizer is not None:
        # the head reads the last token that is not the pad id: use the pad the inputs are padded with
        # (what TRL's RewardTrainer sets too), so training and every λ of the sweep pool the same token
        model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    if not trainable:
        model.eval()
    return model


@contextlib.contextmanager
def subtracted(model, lam: float):
    """Inside: every LoRA layer computes W − λ·(α/r)·B·A (scaling α/r multiplied by −λ); restored after."""
    from peft.helpers import rescale_adapter_scale

    with rescale_adapter_scale(model, -float(lam)):
        yield model


def train_forget_lora(
    model_spec,
    data_path: str | Path,
    s: ForgetLoRASettings,
    seed: int,
    out_dir: str | Path,
    checkpoint_root: str | Path,
) -> dict:
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    from debiaslab import models
    from debiaslab.core.io import DataError, read_table
    from debiaslab.data.reward_inputs import encode
    from debiaslab.methods.common import checkpoint_dir_for, train_and_save, trainer_arguments_from

    check_settings(s)
    frame = read_table(data_path, required=["mode", "prompt", "chosen", "rejected"])
    frame = frame[frame["mode"] == s.pair_mode]
    if frame.empty:
        raise DataError(f"{data_path}: no pairs of mode {s.pair_mode!r}")
    prompts = frame["prompt"].tolist()
    chosen, rejected = frame["chosen"].tolist(), frame["rejected"].tolist()
    if s.direction == "undesired":
        chosen, rejected = rejected, chosen  # fit the bias: the dispreferred answer wins

    spec = models.ModelSpec.parse(model_spec)
    tokenizer = models.load_tokenizer(spec, padding_side="right")
    model = load_reward_model(spec, s.base_adapter, tokenizer=tokenizer, trainable=True)
    # Pre-tokenized with the encoding the sweep scores with (TRL skips its own formatting).
    dataset = Dataset.from_dict(
        {"chosen_ids": encode(tokenizer, prompts, chosen), "rejected_ids": encode(tokenizer, prompts, rejected)}
    )
    checkpoint_dir = checkpoint_dir_for(checkpoint_root, spec.path, s, seed, str(data_path))
    config = RewardConfig(
        **trainer_arguments_from(s, checkpoint_dir=checkpoint_dir, seed=seed),
        max_length=s.max_length,
        disable_dropout=s.disable_dropout,
        dataset_num_proc=None,
    )
    trainer = RewardTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        # no task type: the score head stays frozen and outside the adapter (module docstring)
        peft_config=models.lora_config(vars(s.lora), task_type=None, model=model),
    )
    info = {
        "method": "forget_lora",
        "pair_mode": s.pair_mode,
        "direction": s.direction,
        "seed": seed,
        "pairs": len(dataset),
        "pairs_kept": len(trainer.train_dataset),
    }
    return train_and_save(trainer, out_dir, checkpoint_dir, info)
