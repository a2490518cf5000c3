"""rm_forget config: the schema's defaults are the source's values; cross-field rules name the key."""

import copy
from pathlib import Path

import pytest

from debiaslab.core.config import ConfigError
from debiaslab.experiments.registry import validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
BASE = {
    "name": "t",
    "models": {"rm": {"path": "org/reward-model", "kind": "seq-cls"}},
    "experiments": {"rm_forget": {"models": ["rm"]}},
}


def check(edit=lambda c: None):
    config = copy.deepcopy(BASE)
    edit(config)
    return validate(config, SCHEMA)


def rejects(edit, *fragments):
    with pytest.raises(ConfigError) as err:
        check(edit)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


def test_defaults_are_the_sources_full_scale_values():
    exp = check()["experiments"]["rm_forget"]
    assert exp["data"]["dataset"] == {
        "path": "openai/gsm8k",
        "name": "main",
        "train_split": "train",
        "eval_split": "test",
    }
    assert exp["sweep"]["lambdas"] == [-1, -0.5, -0.2, 0, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 2, 3]
    assert list(exp["methods"]) == ["forget_style", "forget_correctness", "forget_cross"]
    for method in exp["methods"].values():
        train = method["train"]
        assert (train["direction"], train["learning_rate"], train["epochs"]) == ("undesired", 1e-5, 3)
        lora = train["lora"]
        assert (lora["r"], lora["alpha"], lora["dropout"], lora["modules_to_save"]) == (8, 16, 0.05, [])
        assert lora["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]


def test_cross_field_rules_name_the_key():
    def no_zero(c):
        c["experiments"]["rm_forget"]["sweep"] = {"lambdas": [0.5, 1]}

    def saved_head(c):
        c["experiments"]["rm_forget"]["methods"] = {"forget_style": {"train": {"lora": {"modules_to_save": ["score"]}}}}

    def same_split(c):
        c["experiments"]["rm_forget"]["data"] = {"dataset": {"eval_split": "train"}}

    def causal(c):
        c["models"]["rm"]["kind"] = "causal"

    def stray_adapter(c):
        c["experiments"]["rm_forget"]["base_adapters"] = {"other": "org/adapter"}

    rejects(no_zero, "experiments.rm_forget.sweep.lambdas", "must include 0")
    rejects(saved_head, "experiments.rm_forget.methods.forget_style.train.lora.modules_to_save")
    rejects(same_split, "experiments.rm_forget.data.dataset.eval_split")
    rejects(causal, "experiments.rm_forget.models[0]", "seq-cls")
    rejects(stray_adapter, "experiments.rm_forget.base_adapters", "other")
    rejects(lambda c: c["experiments"]["rm_forget"].update(methods={"forget_length": {}}), "forget_length")
