"""Dispatch `debiaslab train --method NAME` to the method's trainer and settings class."""

from __future__ import annotations

from pathlib import Path


def _sft():
    from debiaslab.methods.sft import SFTSettings, train_sft

    return SFTSettings, train_sft


def _dpo():
    from debiaslab.methods.dpo import DPOSettings, train_dpo

    return DPOSettings, train_dpo


def _kl_equal():
    from functools import partial

    from debiaslab.methods.desired_kl import KLSettings, train_desired_kl

    return KLSettings, partial(train_desired_kl, desired="equal", adaptive=False)


def _kl_real_world():
    from functools import partial

    from debiaslab.methods.desired_kl import RealWorldKLSettings, train_desired_kl

    return RealWorldKLSettings, partial(train_desired_kl, desired="real_world", adaptive=True)


TRAINERS = {"sft": _sft, "dpo": _dpo, "kl_equal": _kl_equal, "kl_real_world": _kl_real_world}


def run(method: str, *, model, data, settings: dict, seed: int, out, checkpoints) -> dict:
    from debiaslab.config import ConfigError, build

    if method not in TRAINERS:
        raise ConfigError(f"train: unknown method {method!r}; known: {', '.join(sorted(TRAINERS))}")
    settings_cls, trainer = TRAINERS[method]()
    typed = build(settings_cls, settings, f"{method} settings")
    return trainer(model, data, typed, seed, Path(out), Path(checkpoints))
