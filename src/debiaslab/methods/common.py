"""What every trainer shares: LoRA settings, TRL/Trainer arguments, resume, atomic save.

Checkpoints live in a per-job directory *outside* the declared output (Snakemake
deletes outputs before rerunning a job), keyed by a hash of the job's settings so
a rerun after an edit never resumes from a checkpoint of different settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import signal
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    modules_to_save: tuple[str, ...] = ()


def settings_hash(*parts: Any) -> str:
    blob = json.dumps(
        [asdict(p) if hasattr(p, "__dataclass_fields__") else p for p in parts], sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def use_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def trainer_arguments(
    *,
    checkpoint_dir: Path,
    seed: int,
    learning_rate: float,
    epochs: float,
    batch_size: int,
    gradient_accumulation_steps: int = 1,
    warmup_ratio: float = 0.0,
    weight_decay: float = 0.0,
    save_steps: int = 50,
    logging_steps: int = 10,
    max_steps: int = -1,
) -> dict[str, Any]:
    """Keyword arguments every TRL config here shares.

    bf16 and gradient checkpointing default on in TRL 1.x and fail without a GPU, so
    both are set explicitly: bf16 only where the GPU supports it. `batch_size` is the
    global batch: under a multi-GPU launch each of the WORLD_SIZE processes takes its share,
    so the optimisation is the config's whatever the GPU count.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if batch_size % world_size:
        from debiaslab.core.config import ConfigError

        raise ConfigError(
            f"batch_size {batch_size} does not split over the job's {world_size} GPUs; "
            "give the job a GPU count that divides it"
        )
    return dict(
        output_dir=str(checkpoint_dir),
        seed=seed,
        data_seed=seed,
        learning_rate=learning_rate,
        num_train_epochs=epochs,
        max_steps=max_steps,
        per_device_train_batch_size=batch_size // world_size,
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
        # a job log is a file: tqdm's bar there is one line of carriage returns, so off unless on a terminal;
        # the Trainer then prints each logging step's metrics, and progress_callback adds step counts and ETA
        disable_tqdm=not sys.stderr.isatty(),
    )


def trainer_arguments_from(settings: Any, *, checkpoint_dir: Path, seed: int) -> dict[str, Any]:
    """trainer_arguments from a TRL trainer's settings dataclass (SFT, DPO, the forget-LoRA reward trainer):
    the fields they all have, under the same names."""
    return trainer_arguments(
        checkpoint_dir=checkpoint_dir,
        seed=seed,
        learning_rate=settings.learning_rate,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation_steps,
        warmup_ratio=settings.warmup_ratio,
        weight_decay=settings.weight_decay,
        save_steps=settings.save_steps,
    )


def checkpoint_dir_for(root: str | Path, *settings: Any) -> Path:
    return Path(root) / settings_hash(*settings)


# transformers writes a checkpoint folder file by file and trainer_state.json last: a folder without
# it was cut short by a kill and cannot be resumed from.
COMPLETE_MARKER = "trainer_state.json"


def last_checkpoint(checkpoint_dir: Path) -> str | None:
    """The newest *complete* checkpoint; partial ones (killed mid-save) are removed."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    if not checkpoint_dir.is_dir():
        return None
    steps = sorted(
        (int(p.name.rsplit("-", 1)[1]), p)
        for p in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()
    )
    for _, path in reversed(steps):
        if (path / COMPLETE_MARKER).is_file():
            return str(path)
        if _is_main_process():
            log.warning("dropping incomplete checkpoint %s (no %s)", path, COMPLETE_MARKER)
            shutil.rmtree(path, ignore_errors=True)
    return None


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


class StopOnSignal:
    """Checkpoint and stop when the job is told to end.

    SLURM sends SIGTERM to a job it preempts, requeues, cancels or that reaches its time limit,
    then SIGKILL after KillWait seconds. Instead of losing the steps since the last periodic
    checkpoint, the trainer saves one at the end of the current step and stops; the process then
    exits with 128 + signal and writes no output, so the requeued (or retried) job resumes exactly
    there. SIGUSR1 does the same, for `sbatch --signal=USR1@<seconds>` ahead of a time limit.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.received: int | None = None
        self._previous = {}

    def install(self) -> None:
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum, frame) -> None:
        self.received = signum  # acted on at the end of the step (no work inside a signal handler)

    def stop_now(self) -> bool:
        """Whether any process of the job was signalled. Under a multi-GPU launch every process must
        stop at the same step (the others would wait forever in the next all-reduce): one tiny
        all-reduce per step agrees on it."""
        import torch.distributed as dist

        flag = self.received is not None
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            import torch

            device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else "cpu"
            value = torch.tensor([1 if flag else 0], device=device)
            dist.all_reduce(value, op=dist.ReduceOp.MAX)
            flag = bool(value.item())
            if flag and self.received is None:
                self.received = signal.SIGTERM
        return flag

    def callback(self):
        from transformers import TrainerCallback

        owner = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if owner.stop_now():
                    log.warning(
                        "received %s: checkpointing step %d, then stopping",
                        signal.Signals(owner.received).name,
                        state.global_step,
                    )
                    control.should_save = True
                    control.should_training_stop = True
                return control

        return _Callback()


def train_and_save(trainer, out_dir: str | Path, checkpoint_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume) training, save the adapter atomically, then drop the checkpoints.

    A rerun after a kill, a timeout or a preemption resumes from the newest complete checkpoint
    and ends with the same adapter as an uninterrupted run (tests/test_resume.py): the checkpoint
    holds the adapter, optimizer, scheduler and RNG states, and the Trainer skips the batches
    already seen. Under a multi-GPU launch every process trains; the main process saves.
    """
    from debiaslab.core.io import atomic_path, write_json
    from debiaslab.core.progress import trainer_callback

    resume = last_checkpoint(checkpoint_dir)
    if resume:
        log.info("resuming from %s", resume)
    stopper = StopOnSignal()
    trainer.add_callback(stopper.callback())
    trainer.add_callback(trainer_callback(f"train {info['method']}"))
    stopper.install()
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    finally:
        stopper.uninstall()
    if stopper.received is not None and trainer.state.global_step < trainer.state.max_steps:
        log.warning(
            "stopped at step %d on %s; checkpoint in %s; rerun to resume",
            trainer.state.global_step,
            signal.Signals(stopper.received).name,
            checkpoint_dir,
        )
        raise SystemExit(128 + stopper.received)
    history = [row for row in trainer.state.log_history if "loss" in row]
    start = int(Path(resume).name.rsplit("-", 1)[1]) if resume else 0
    summary = dict(
        info,
        resumed_from=Path(resume).name if resume else None,
        global_step=trainer.state.global_step,
        # the Trainer averages over the steps this process ran (all of them unless resumed)
        train_loss=result.training_loss,
        train_loss_steps=trainer.state.global_step - start,
        final_logged_loss=history[-1]["loss"] if history else None,
    )
    # FSDP shards the weights: gather one full state dict (every process must take part)
    state_dict = trainer.accelerator.get_state_dict(trainer.model) if trainer.is_fsdp_enabled else None
    if trainer.is_world_process_zero():
        with atomic_path(out_dir, directory=True) as tmp:
            trainer.model.save_pretrained(str(tmp), state_dict=state_dict)
            write_json(tmp / "training_summary.json", summary)
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return summary
