"""Run one method's trainer: `debiaslab train --method NAME` (the CLI looks the method up in
methods/registry.py and passes it here).

This module names no trainer: its code fingerprint (core.provenance.source_fingerprint) holds none, so
each training job fingerprints this runner plus its own trainer's module, and editing one trainer
reruns only that trainer's jobs.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path


def run(name: str, method, *, model, data, settings: dict, seed: int, out, checkpoints) -> dict:
    """Train `method` (a methods.registry.Method, called `name` in the config) for one seed."""
    from debiaslab.core.config import ConfigError, build

    if not method.trained:
        raise ConfigError(f"train: {name} is a {method.kind} method; it has nothing to train")
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    if processes > 1 and method.one_process:
        raise ConfigError(
            f"train: {name} trains in a loop of its own on one GPU, but this job was launched as "
            f"{processes} processes; give it one GPU (resources gpu: 1)"
        )
    module = importlib.import_module(method.module)
    typed = build(getattr(module, method.settings), settings, f"{name} settings")
    return getattr(module, method.trainer)(model, data, typed, seed, Path(out), Path(checkpoints), **method.fixed)
