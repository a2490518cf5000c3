"""Every method, by the name configs use: what kind of artifact a run of it has, and what trains or decodes it.

kind (the artifact a run of the method leaves, which generation and evaluations apply to the base model):
- "adapter": a PEFT adapter folder (`adapter/`), trained;
- "projection": an LM-head projection folder (`projection/`, INLP), trained, applied as a hook;
- "model": a trained folder under the name `model/`: a complete fine-tuned model (masked LMs) or an
  adapter (causal LMs); `models.apply_trained` tells them apart;
- "decoding": no artifact; the generate job decodes with `module`'s `decode` and the method's config slice;
- "none": the base model as it is (a baseline).

Read by the rules (which methods get a training job, what their output folder is called, what a
generation job fingerprints) and by `debiaslab train` / `debiaslab generate` (which module runs). The
modules are named, not imported, so a job's code fingerprint holds only the trainer or decoder it runs:
editing one trainer reruns only that trainer's jobs, and adding a method here reruns nothing.
Adding a method: its module (a settings dataclass and a trainer, or a `decode`), one line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("adapter", "projection", "model", "decoding", "none")
TRAINED = ("adapter", "projection", "model")


@dataclass(frozen=True)
class Method:
    kind: str
    module: str | None = None  # trainer (trained kinds) or decoder (decoding) module
    settings: str | None = None  # the trainer's settings dataclass, in `module`
    trainer: str | None = None  # the trainer function, in `module`
    fixed: dict = field(default_factory=dict)  # keyword arguments the trainer always gets for this method
    one_process: bool = False  # a training loop of its own: one process whatever the GPU count

    @property
    def trained(self) -> bool:
        return self.kind in TRAINED


METHODS: dict[str, Method] = {
    "prompt_only": Method("none"),
    "base": Method("none"),
    "gen_filter": Method("decoding", "debiaslab.methods.gen_filter"),
    "constrained": Method("decoding", "debiaslab.generation.constrained"),
    "sft": Method("adapter", "debiaslab.methods.sft", "SFTSettings", "train_sft"),
    "dpo": Method("adapter", "debiaslab.methods.dpo", "DPOSettings", "train_dpo"),
    "inlp": Method("projection", "debiaslab.methods.inlp", "INLPSettings", "train_inlp", one_process=True),
    "reinforce": Method(
        "adapter", "debiaslab.methods.reinforce", "ReinforceSettings", "train_reinforce", one_process=True
    ),
    "rloo": Method("adapter", "debiaslab.methods.rloo", "RLOOSettings", "train_rloo"),
    "forget_style": Method("adapter", "debiaslab.methods.forget_lora", "ForgetLoRASettings", "train_forget_lora"),
    "forget_correctness": Method("adapter", "debiaslab.methods.forget_lora", "ForgetLoRASettings", "train_forget_lora"),
    "forget_cross": Method("adapter", "debiaslab.methods.forget_lora", "ForgetLoRASettings", "train_forget_lora"),
    "kl_equal": Method(
        "model",
        "debiaslab.methods.desired_kl",
        "KLSettings",
        "train_desired_kl",
        {"desired": "equal", "adaptive": False},
        one_process=True,
    ),
    "kl_real_world": Method(
        "model",
        "debiaslab.methods.desired_kl",
        "RealWorldKLSettings",
        "train_desired_kl",
        {"desired": "real_world", "adaptive": True},
        one_process=True,
    ),
}

# the module that applies a projection artifact during generation (add_projection_hook / load_projection)
PROJECTION_MODULE = "debiaslab.methods.inlp"


def method(name: str) -> Method:
    """The method `name`, or a ConfigError naming the known ones."""
    if name not in METHODS:
        from debiaslab.core.config import ConfigError

        raise ConfigError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name]


def with_kind(*kinds: str) -> list[str]:
    """The methods whose artifact is one of `kinds`, in registry order."""
    return [name for name, m in METHODS.items() if m.kind in kinds]


def run(name: str, **kwargs) -> dict:
    """Train method `name` with its registry entry (methods/train.py): what `debiaslab train --method NAME`
    runs. kwargs: model, data, settings, seed, out, checkpoints."""
    from debiaslab.methods import train

    return train.run(name, method(name), **kwargs)
