"""Dispatch `debiaslab train --method NAME` to the method's trainer and settings class."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

# method → (module, settings class, trainer function, fixed keyword arguments). Imported by name when
# run, so that this module's code fingerprint (provenance.source_fingerprint) holds no trainer: each
# training rule fingerprints this dispatcher plus its own trainer, and editing one trainer reruns only
# that trainer's jobs.
TRAINERS = {
    "sft": ("debiaslab.methods.sft", "SFTSettings", "train_sft", {}),
    "dpo": ("debiaslab.methods.dpo", "DPOSettings", "train_dpo", {}),
    "inlp": ("debiaslab.methods.inlp", "INLPSettings", "train_inlp", {}),
    "reinforce": ("debiaslab.methods.reinforce", "ReinforceSettings", "train_reinforce", {}),
    "rloo": ("debiaslab.methods.rloo", "RLOOSettings", "train_rloo", {}),
    "forget_lora": ("debiaslab.methods.forget_lora", "ForgetLoRASettings", "train_forget_lora", {}),
    "kl_equal": (
        "debiaslab.methods.desired_kl",
        "KLSettings",
        "train_desired_kl",
        {"desired": "equal", "adaptive": False},
    ),
    "kl_real_world": (
        "debiaslab.methods.desired_kl",
        "RealWorldKLSettings",
        "train_desired_kl",
        {"desired": "real_world", "adaptive": True},
    ),
}

# Trainers with a training loop of their own: one process. TRL's trainers (sft, dpo, rloo, forget_lora)
# split each batch over the processes of a multi-GPU `accelerate launch`; these would run one whole,
# identical job per GPU, each writing the same output.
ONE_PROCESS = {"inlp", "reinforce", "kl_equal", "kl_real_world"}


def trainer_module(method: str) -> str:
    """The module that trains `method` (what its rule fingerprints besides this dispatcher)."""
    return TRAINERS[method][0]


def run(method: str, *, model, data, settings: dict, seed: int, out, checkpoints) -> dict:
    from debiaslab.core.config import ConfigError, build

    if method not in TRAINERS:
        raise ConfigError(f"train: unknown method {method!r}; known: {', '.join(sorted(TRAINERS))}")
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if processes > 1 and method in ONE_PROCESS:
        raise ConfigError(
            f"train: {method} trains in a loop of its own on one GPU, but this job was launched as "
            f"{processes} processes; give its rule one GPU (resources gpu: 1)"
        )
    module_name, settings_name, trainer_name, fixed = TRAINERS[method]
    module = importlib.import_module(module_name)
    typed = build(getattr(module, settings_name), settings, f"{method} settings")
    return getattr(module, trainer_name)(model, data, typed, seed, Path(out), Path(checkpoints), **fixed)
