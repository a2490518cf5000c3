"""Direct Preference Optimization of a LoRA adapter with TRL's DPOTrainer.

The reference policy is the base model itself with the adapter disabled (TRL's
behaviour for a PEFT model and no `ref_model`), as in both source studies. Data rows
are {prompt, chosen, rejected}: plain strings, or chat message lists (TRL applies
the chat template, with the generation prompt after the prompt turns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from debiaslab.methods.common import LoraSettings


@dataclass(frozen=True)
class DPOSettings:
    learning_rate: float = 1e-4
    epochs: float = 1
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    beta: float = 0.1
    loss_type: str = "sigmoid"
    max_length: int = 512
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    save_steps: int = 50
    lora: LoraSettings = field(default_factory=LoraSettings)


def train_dpo(
    model_spec,
    data_path: str | Path,
    settings: DPOSettings,
    seed: int,
    out_dir: str | Path,
    checkpoint_root: str | Path,
) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from debiaslab import models
    from debiaslab.core.io import read_table, require_text
    from debiaslab.methods.common import checkpoint_dir_for, train_and_save, trainer_arguments_from

    frame = read_table(data_path, required=["prompt", "chosen", "rejected"])
    require_text(frame, ["prompt", "chosen", "rejected"], data_path, conversations=True)
    dataset = Dataset.from_pandas(frame[["prompt", "chosen", "rejected"]], preserve_index=False)
    spec = models.ModelSpec.parse(model_spec)
    tokenizer = models.load_tokenizer(spec, padding_side="right")
    model = models.load_model(spec, trainable=True)
    checkpoint_dir = checkpoint_dir_for(checkpoint_root, spec.path, settings, seed, str(data_path))
    config = DPOConfig(
        **trainer_arguments_from(settings, checkpoint_dir=checkpoint_dir, seed=seed),
        beta=settings.beta,
        loss_type=[settings.loss_type],
        max_length=settings.max_length,
        dataset_num_proc=None,
    )
    trainer = DPOTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=models.lora_config(vars(settings.lora), model=model),
    )
    return train_and_save(
        trainer, out_dir, checkpoint_dir, {"method": "dpo", "seed": seed, "pairs": len(dataset), "beta": settings.beta}
    )
