"""Forget-LoRA subtraction: the model at λ computes W − λ·(alpha/r)·B·A, and nothing else changes."""

import copy
import json

import pytest
import torch

from debiaslab import models
from debiaslab.core.config import ConfigError, build
from debiaslab.methods.forget_lora import ForgetLoRASettings, check_settings, load_reward_model, subtracted

R, ALPHA = 8, 16
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")


@pytest.fixture(scope="module")
def reward_model_dir(tmp_path_factory):
    """A small random Qwen3 reward model (one logit) saved in Hub format."""
    from transformers import Qwen3Config, Qwen3ForSequenceClassification

    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        num_labels=1,
        pad_token_id=0,
    )
    path = tmp_path_factory.mktemp("rm")
    Qwen3ForSequenceClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def adapter_dir(reward_model_dir, tmp_path_factory):
    """A LoRA on q,k,v,o (r 8, alpha 16) with random, non-zero A and B, as the trainer builds it."""
    from peft import get_peft_model

    torch.manual_seed(1)
    base = models.load_model(str(reward_model_dir))
    lora = models.lora_config({"r": R, "alpha": ALPHA, "dropout": 0.05, "target_modules": TARGETS}, task_type=None)
    lora.init_lora_weights = False  # random B: a trained adapter, not the zero initialisation
    path = tmp_path_factory.mktemp("adapter")
    get_peft_model(base, lora).save_pretrained(path)
    return path


def _inputs():
    torch.manual_seed(2)
    ids = torch.randint(1, 50, (4, 12))
    mask = torch.ones_like(ids)
    ids[1, 9:], mask[1, 9:] = 0, 0  # one padded row
    return ids, mask


def _by_hand(reward_model_dir, adapter_dir, lam):
    """The base model with every target weight replaced by W − λ·(alpha/r)·B·A, from the adapter file."""
    from safetensors.torch import load_file

    model = load_reward_model(str(reward_model_dir))
    lora = load_file(str(adapter_dir / "adapter_model.safetensors"))
    changed = 0
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in TARGETS:
            a = lora[f"base_model.model.{name}.lora_A.weight"]
            b = lora[f"base_model.model.{name}.lora_B.weight"]
            module.weight.data -= lam * (ALPHA / R) * (b @ a)
            changed += 1
    assert changed == 2 * len(TARGETS)
    return model


@pytest.mark.parametrize("lam", [-1.0, 0.5, 1.0, 3.0])
def test_subtracted_model_equals_hand_built_weights(reward_model_dir, adapter_dir, lam):
    ids, mask = _inputs()
    model = models.attach_adapter(load_reward_model(str(reward_model_dir)), adapter_dir).eval()
    with torch.no_grad():
        with subtracted(model, lam):
            got = model(input_ids=ids, attention_mask=mask).logits
        expected = _by_hand(reward_model_dir, adapter_dir, lam)(input_ids=ids, attention_mask=mask).logits
        plain = load_reward_model(str(reward_model_dir))(input_ids=ids, attention_mask=mask).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    assert (got - plain).abs().max() > 1e-3  # the adapter does change the scores: the check can fail


def test_lambda_zero_is_the_base_model_and_scaling_is_restored(reward_model_dir, adapter_dir):
    from peft.tuners.lora import LoraLayer

    ids, mask = _inputs()
    model = models.attach_adapter(load_reward_model(str(reward_model_dir)), adapter_dir).eval()
    base = load_reward_model(str(reward_model_dir))
    with torch.no_grad():
        with subtracted(model, 0.0):
            got = model(input_ids=ids, attention_mask=mask).logits
        torch.testing.assert_close(got, base(input_ids=ids, attention_mask=mask).logits, atol=0, rtol=0)
    scalings = [m.scaling["default"] for m in model.modules() if isinstance(m, LoraLayer)]
    assert scalings and all(s == ALPHA / R for s in scalings)


def test_adapter_leaves_the_score_head_out(adapter_dir):
    from safetensors.torch import load_file

    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    assert not config["modules_to_save"]
    keys = load_file(str(adapter_dir / "adapter_model.safetensors")).keys()
    assert keys and all(("lora_A" in k or "lora_B" in k) and any(t in k for t in TARGETS) for k in keys)


def test_base_reward_adapter_is_merged_first(reward_model_dir, tmp_path):
    """A PEFT reward adapter (LoRA + its own score head) becomes the base weights the forget-LoRA acts on."""
    from peft import LoraConfig, PeftModel, get_peft_model

    torch.manual_seed(3)
    base = models.load_model(str(reward_model_dir))
    reward_lora = LoraConfig(r=4, lora_alpha=8, target_modules=["v_proj"], task_type="SEQ_CLS", init_lora_weights=False)
    peft_model = get_peft_model(base, reward_lora)
    peft_model.base_model.model.score.modules_to_save["default"].weight.data.normal_()
    peft_model.save_pretrained(tmp_path / "reward_adapter")
    ids, mask = _inputs()
    with torch.no_grad():
        reference = PeftModel.from_pretrained(
            models.load_model(str(reward_model_dir)), tmp_path / "reward_adapter"
        ).eval()
        expected = reference(input_ids=ids, attention_mask=mask).logits
        merged = load_reward_model(str(reward_model_dir), str(tmp_path / "reward_adapter"))
        got = merged(input_ids=ids, attention_mask=mask).logits
    assert not isinstance(merged, PeftModel)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_settings_refuse_a_saved_module_and_unknown_modes():
    with pytest.raises(ConfigError, match="modules_to_save"):
        check_settings(build(ForgetLoRASettings, {"lora": {"modules_to_save": ["score"]}}))
    with pytest.raises(ConfigError, match="pair_mode"):
        check_settings(build(ForgetLoRASettings, {"pair_mode": "length"}))
    defaults = build(ForgetLoRASettings, {})
    assert (defaults.lora.r, defaults.lora.alpha, defaults.lora.dropout) == (8, 16, 0.05)
    assert defaults.lora.target_modules == TARGETS and defaults.learning_rate == 1e-5 and defaults.epochs == 3
    assert copy.deepcopy(defaults) == defaults
