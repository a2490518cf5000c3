"""Defaults live in one place, the schema: every settings dataclass a job builds from its config slice
(core.config.build) has the schema's defaults, so a by-hand run without --settings does what the workflow does.

Each class is built from the schema's default-filled empty slice at the place the workflow takes its slice
from, and compared with the class's own defaults. Fields the schema does not define (added by the rules, e.g.
a grid cell's dataset size) keep the class's defaults; an experiment's schema that overrides a shared default
for itself (occupations' LoRA rank) is checked at the shared definition.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path

import pytest

from debiaslab.core import config

SCHEMA = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"

# settings class -> where in the schema its slice comes from (and fields the rules fill in otherwise)
CASES = [
    ("debiaslab.methods.sft:SFTSettings", "config.schema.yaml#/$defs/sft_train", ()),
    ("debiaslab.methods.dpo:DPOSettings", "config.schema.yaml#/$defs/dpo_train", ()),
    ("debiaslab.methods.common:LoraSettings", "config.schema.yaml#/$defs/lora", ()),
    ("debiaslab.generation.autoregressive:SamplingSettings", "config.schema.yaml#/$defs/sampling", ()),
    (
        "debiaslab.methods.inlp:INLPSettings",
        "occupations.schema.yaml#/properties/methods/properties/inlp/properties/fit",
        (),
    ),
    (
        "debiaslab.methods.gen_filter:FilterSettings",
        "occupations.schema.yaml#/properties/methods/properties/gen_filter",
        (),
    ),
    (
        "debiaslab.generation.constrained:ConstraintSettings",
        "occupations.schema.yaml#/properties/methods/properties/constrained",
        (),
    ),
    (
        "debiaslab.methods.reinforce:ReinforceSettings",
        "reward_guided.schema.yaml#/properties/methods/properties/reinforce/properties/train",
        (),
    ),
    (
        "debiaslab.methods.rloo:RLOOSettings",
        "reward_guided.schema.yaml#/properties/methods/properties/rloo/properties/train",
        (),
    ),
    ("debiaslab.methods.reward:RewardSettings", "reward_guided.schema.yaml#/properties/reward", ()),
    ("debiaslab.metrics.genbit:GenBitSettings", "reward_guided.schema.yaml#/properties/reward/properties/genbit", ()),
    ("debiaslab.methods.policy:PolicySampling", "reward_guided.schema.yaml#/properties/generation", ()),
    (
        "debiaslab.experiments.reward_guided.scoring:EvalSettings",
        "reward_guided.schema.yaml#/properties/evaluation",
        (),
    ),
    (
        "debiaslab.methods.forget_lora:ForgetLoRASettings",
        "rm_forget.schema.yaml#/properties/methods/properties/forget_style/properties/train",
        (),
    ),
    ("debiaslab.experiments.rm_forget.scoring:SweepSettings", "rm_forget.schema.yaml#/properties/sweep", ()),
    ("debiaslab.experiments.rm_forget.data:StyleDataSettings", "rm_forget.schema.yaml#/properties/data", ()),
    (
        "debiaslab.methods.desired_kl:KLSettings",
        "desired_distribution.schema.yaml#/properties/methods/properties/kl_equal/properties/train",
        (),
    ),
    (
        "debiaslab.methods.desired_kl:RealWorldKLSettings",
        "desired_distribution.schema.yaml#/properties/methods/properties/kl_real_world/properties/train",
        (),
    ),
    (
        "debiaslab.experiments.desired_distribution.scoring:EvaluationSettings",
        "desired_distribution.schema.yaml#/properties/evaluation",
        (),
    ),
    # `model` is a name under `models` in the config; the rules hand the job that model's entry
    (
        "debiaslab.experiments.safety.scoring:ScoringModel",
        "safety.schema.yaml#/properties/scoring/properties/reward_model",
        ("model",),
    ),
    ("debiaslab.evals.mmlu:MMLUSettings", "config.schema.yaml#/$defs/evaluations/properties/mmlu", ()),
    ("debiaslab.evals.glue:GlueSettings", "config.schema.yaml#/$defs/evaluations/properties/glue", ()),
    (
        "debiaslab.evals.corpus_perplexity:PerplexitySettings",
        "config.schema.yaml#/$defs/evaluations/properties/perplexity",
        (),
    ),
    (
        "debiaslab.evals.bias_suite.crows_pairs:CrowsSettings",
        "config.schema.yaml#/$defs/evaluations/properties/crows_pairs",
        (),
    ),
    (
        "debiaslab.evals.bias_suite.suite:BiasSuiteSettings",
        "config.schema.yaml#/$defs/evaluations/properties/bias_suite",
        (),
    ),
    ("debiaslab.evals.fluency:FluencySettings", "config.schema.yaml#/$defs/evaluations/properties/fluency", ()),
    ("debiaslab.evals.lm_eval_bridge:LmEvalSettings", "config.schema.yaml#/$defs/evaluations/properties/lm_eval", ()),
    ("debiaslab.testbed.pretrain:PretrainSettings", "config.schema.yaml#/$defs/pretrain", ()),
    ("debiaslab.testbed.style_rm:StyleRMSettings", "config.schema.yaml#/$defs/testbed/properties/style_rm", ()),
    ("debiaslab.testbed.glue:GlueSetSettings", "config.schema.yaml#/$defs/testbed/properties/glue", ()),
    ("debiaslab.testbed.arithmetic:ArithmeticSettings", "config.schema.yaml#/$defs/testbed/properties/arithmetic", ()),
    (
        "debiaslab.testbed.desired_distribution_mlm:MLMSettings",
        "config.schema.yaml#/$defs/testbed/properties/desired_distribution_mlm",
        (),
    ),
    ("debiaslab.testbed.scorers:ScorerSettings", "safety.schema.yaml#/$defs/testbed/properties/bias_classifier", ()),
    ("debiaslab.testbed.scorers:ScorerSettings", "safety.schema.yaml#/$defs/testbed/properties/reward_model", ()),
]


def schema_defaults(ref: str) -> dict:
    """The slice the schema fills in for an empty one at `ref` (as validating a config does)."""
    registry, _ = config._schema_registry(SCHEMA)
    slice_: dict = {}
    errors = config._default_filling_validator({"$ref": ref}, registry).iter_errors(slice_)
    assert [e.message for e in errors if e.validator != "required"] == []
    return slice_


def settings_class(entry: str):
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(
    "entry, ref, resolved", CASES, ids=[f"{e.split(':')[1]}@{r.split('#')[0]}" for e, r, _ in CASES]
)
def test_settings_defaults_are_the_schemas(entry, ref, resolved):
    cls = settings_class(entry)
    defaults = schema_defaults(ref)
    fields = {f.name for f in dataclasses.fields(cls)}
    assert set(defaults) <= fields, f"{entry}: the schema has keys the class lacks: {sorted(set(defaults) - fields)}"
    built = config.build(cls, {k: v for k, v in defaults.items() if k not in resolved})
    assert built == cls(), f"{entry}: the class's defaults differ from the schema's at {ref}"
