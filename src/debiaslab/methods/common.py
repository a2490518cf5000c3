"""What every trainer shares: LoRA settings, TRL/Trainer arguments, resume, atomic save.

Checkpoints live in a per-job directory *outside* the declared output (Snakemake
deletes outputs before rerunning a job), keyed by a hash of the job's settings so
a rerun after an edit never resumes from a checkpoint of different settings.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    modules_to_save: tuple[str, ...] = ()


def settings_hash(*parts: Any) -> str:
    blob = json.dumps([asdict(p) if hasattr(p, "__dataclass_fields__") else p for p in parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def use_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def trainer_arguments(*, checkpoint_dir: Path, seed: int, learning_rate: float, epochs: float, batch_size: int,
                      gradient_accumulation_steps: int = 1, warmup_ratio: float = 0.0, weight_decay: float = 0.0,
                      save_steps: int = 50, logging_steps: int = 10, max_steps: int = -1) -> dict[str, Any]:
    """Keyword arguments every TRL config here shares.

    bf16 and gradient checkpointing default on in TRL 1.x and fail without a GPU, so
    both are set explicitly: bf16 only where the GPU supports it.
    """
    return dict(
        output_dir=str(checkpoint_dir),
        seed=seed,
        data_seed=seed,
        learning_rate=learning_rate,
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        warmup_steps=warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of total steps
        weight_decay=weight_decay,
        lr_scheduler_type="linear",
        bf16=use_bf16(),
        fp16=False,
        gradient_checkpointing=False,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        logging_steps=logging_steps,
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )


def checkpoint_dir_for(root: str | Path, *settings: Any) -> Path:
    return Path(root) / settings_hash(*settings)


def last_checkpoint(checkpoint_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not checkpoint_dir.is_dir():
        return None
    return get_last_checkpoint(str(checkpoint_dir))


def train_and_save(trainer, out_dir: str | Path, checkpoint_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume) training, save the adapter atomically, then drop the checkpoints."""
    from debiaslab.io import atomic_path, write_json

    resume = last_checkpoint(checkpoint_dir)
    result = trainer.train(resume_from_checkpoint=resume)
    history = [row for row in trainer.state.log_history if "loss" in row]
    summary = dict(info, resumed_from=Path(resume).name if resume else None, global_step=trainer.state.global_step,
                   train_loss=result.training_loss, final_logged_loss=history[-1]["loss"] if history else None)
    with atomic_path(out_dir, directory=True) as tmp:
        trainer.model.save_pretrained(str(tmp))
        write_json(tmp / "training_summary.json", summary)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return summary


