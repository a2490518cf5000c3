"""Supervised fine-tuning of a LoRA adapter with TRL's SFTTrainer.

Data is either prompt/completion rows (loss on the completion only, TRL's default
for that format) or chat `messages` rows (loss on the whole conversation, as the
`safety` source trained on the chosen hh-rlhf dialogue).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from debiaslab.methods.common import LoraSettings


@dataclass(frozen=True)
class SFTSettings:
    learning_rate: float = 2e-4
    epochs: float = 3
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 128
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    save_steps: int = 50
    lora: LoraSettings = field(default_factory=LoraSettings)


def train_sft(
    model_spec,
    data_path: str | Path,
    settings: SFTSettings,
    seed: int,
    out_dir: str | Path,
    checkpoint_root: str | Path,
) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from debiaslab import models
    from debiaslab.core.io import DataError, read_table, require_text
    from debiaslab.methods.common import checkpoint_dir_for, train_and_save, trainer_arguments_from

    frame = read_table(data_path)
    if "messages" in frame.columns:
        columns = ["messages"]
    elif {"prompt", "completion"} <= set(frame.columns):
        columns = ["prompt", "completion"]
    else:
        raise DataError(
            f"{data_path}: SFT data needs a 'messages' column or 'prompt' and 'completion' columns; "
            f"found {list(frame.columns)}"
        )
    require_text(frame, columns, data_path, conversations=True)  # a null prompt fails here, not in TRL
    dataset = Dataset.from_pandas(frame[columns], preserve_index=False)

    spec = models.ModelSpec.parse(model_spec)
    tokenizer = models.load_tokenizer(spec, padding_side="right")
    model = models.load_model(spec, trainable=True)
    checkpoint_dir = checkpoint_dir_for(checkpoint_root, spec.path, settings, seed, str(data_path))
    config = SFTConfig(
        **trainer_arguments_from(settings, checkpoint_dir=checkpoint_dir, seed=seed),
        max_length=settings.max_length,
        packing=False,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=models.lora_config(vars(settings.lora), model=model),
    )
    return train_and_save(trainer, out_dir, checkpoint_dir, {"method": "sft", "seed": seed, "examples": len(dataset)})
