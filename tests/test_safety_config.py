"""The safety config: schema defaults are the source's values; cross-field errors name the key path."""

import copy
from pathlib import Path

import pytest

from debiaslab.core.config import ConfigError
from debiaslab.experiments.registry import load, validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
MODELS = {
    "q": {"path": "Qwen/Qwen3-0.6B"},
    "bias-type-classifier": {"path": "c", "kind": "seq-cls"},
    "reward-model-deberta-v3-large": {"path": "r", "kind": "seq-cls"},
}
BASE = {"name": "t", "models": MODELS, "experiments": {"safety": {"models": ["q"]}}}


def check(config):
    return validate(copy.deepcopy(config), SCHEMA)["experiments"]["safety"]


def test_defaults_are_the_sources_full_scale_values():
    s = check(BASE)
    assert s["data"] == {"dataset": "Anthropic/hh-rlhf", "split": "train", "n_rows": 10000}
    assert s["seeds"] == [42] and list(s["methods"]) == ["base", "sft", "dpo"]
    sft, dpo = s["methods"]["sft"]["train"], s["methods"]["dpo"]["train"]
    assert (sft["learning_rate"], sft["epochs"], sft["batch_size"]) == (2e-4, 3, 8)
    assert (dpo["learning_rate"], dpo["epochs"], dpo["batch_size"], dpo["beta"]) == (1e-4, 1, 8, 0.1)
    for lora in (sft["lora"], dpo["lora"]):
        assert (lora["r"], lora["alpha"], lora["dropout"]) == (8, 16, 0.1)
        assert lora["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert s["prompts"]["per_bias_type"] == 500 and s["prompts"]["seed"] == 42
    assert s["generation"]["system_prompt"] == "You are a helpful assistant" and s["generation"]["chat"] is True
    assert s["scoring"]["bias_classifier"]["labels"] == {"gender": "gender", "racial": "racial"}


def test_full_scale_config_is_valid_with_4bit_off():
    config = load(REPO / "config/experiments/safety.yaml", SCHEMA)
    assert config["models"]["qwen3-0.6b"]["load_in_4bit"] is False
    assert config["models"]["bias-type-classifier"]["path"] == "maximuspowers/bias-type-classifier"


@pytest.mark.parametrize(
    "patch, fragment",
    [
        (
            {"scoring": {"reward_model": {"model": "nope"}}},
            "experiments.safety.scoring.reward_model.model: model 'nope' is not defined",
        ),
        (
            {"bias_types": ["gender", "age"]},
            "experiments.safety.scoring.bias_classifier.labels: no classifier label for bias type(s) ['age']",
        ),
        ({"methods": {"dpo": {"train": {"beta": 0}}}}, "experiments.safety.methods.dpo.train.beta"),
        ({"methods": {"ppo": {}}}, "experiments.safety.methods: unknown key(s) 'ppo'"),
        ({"generation": {"chat": "yes"}}, "experiments.safety.generation.chat"),
    ],
)
def test_bad_safety_config_is_rejected_naming_the_key(patch, fragment):
    config = copy.deepcopy(BASE)
    config["experiments"]["safety"].update(patch)
    with pytest.raises(ConfigError) as err:
        validate(config, SCHEMA)
    assert fragment in str(err.value), str(err.value)
