"""Dispatch `debiaslab train --method NAME` to the method's trainer and settings class."""

from __future__ import annotations

from pathlib import Path


def _sft():
    from debiaslab.methods.sft import SFTSettings, train_sft

    return SFTSettings, train_sft


def _dpo():
    from debiaslab.methods.dpo import DPOSettings, train_dpo

    return DPOSettings, train_dpo


def _inlp():
    from debiaslab.methods.inlp import INLPSettings, train_inlp

    return INLPSettings, train_inlp


def _reinforce():
    from debiaslab.methods.reinforce import ReinforceSettings, train_reinforce

    return ReinforceSettings, train_reinforce


def _rloo():
    from debiaslab.methods.rloo import RLOOSettings, train_rloo

    return RLOOSettings, train_rloo


def _forget_lora():
    from debiaslab.methods.forget_lora import ForgetLoRASettings, train_forget_lora

    return ForgetLoRASettings, train_forget_lora


def _kl_equal():
    from functools import partial

    from debiaslab.methods.desired_kl import KLSettings, train_desired_kl

    return KLSettings, partial(train_desired_kl, desired="equal", adaptive=False)


def _kl_real_world():
    from functools import partial

    from debiaslab.methods.desired_kl import RealWorldKLSettings, train_desired_kl

    return RealWorldKLSettings, partial(train_desired_kl, desired="real_world", adaptive=True)


TRAINERS = {"sft": _sft, "dpo": _dpo, "inlp": _inlp, "reinforce": _reinforce, "rloo": _rloo, "forget_lora": _forget_lora,
            "kl_equal": _kl_equal, "kl_real_world": _kl_real_world}


def run(method: str, *, model, data, settings: dict, seed: int, out, checkpoints) -> dict:
    from debiaslab.config import ConfigError, build

    if method not in TRAINERS:
        raise ConfigError(f"train: unknown method {method!r}; known: {', '.join(sorted(TRAINERS))}")
    settings_cls, trainer = TRAINERS[method]()
    typed = build(settings_cls, settings, f"{method} settings")
    return trainer(model, data, typed, seed, Path(out), Path(checkpoints))
