"""The testbed: Hub-format artifacts, a tokenizer that knows every word, a learned planted bias."""

import json

import pandas as pd
import pytest
import torch

from debiaslab import models
from debiaslab.data.occupations import FEMALE_STEREOTYPED, MALE_STEREOTYPED, OCCUPATIONS
from debiaslab.experiments.occupations.data import PROMPT
from debiaslab.experiments.registry import corpus_sections
from debiaslab.metrics.balance import AGENTIC, COMMUNAL
from debiaslab.testbed.corpus import build_corpus

pytestmark = pytest.mark.workflow


def test_models_are_hub_format_folders(default_run):
    lm = default_run / "results/testbed/testbed/lm"
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ):
        assert (lm / name).is_file(), name
    assert json.loads((lm / "config.json").read_text())["model_type"] == "qwen3"
    assert json.loads((default_run / "results/testbed/testbed/mlm/config.json").read_text())["model_type"] == "bert"
    assert not list(lm.glob("*.bin")), "weights must be safetensors only"


def test_same_loader_opens_testbed_folder(default_run):
    tok = models.load_tokenizer(str(default_run / "results/testbed/testbed/lm"))
    lm = models.load_model(str(default_run / "results/testbed/testbed/lm"))
    assert type(lm).__name__ == "Qwen3ForCausalLM"
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    mlm = models.load_model(str(default_run / "results/testbed/testbed/mlm"))
    assert type(mlm).__name__ == "BertForMaskedLM"


def test_tokenizers_keep_every_pipeline_word_whole(default_run):
    causal = models.load_tokenizer(str(default_run / "results/testbed/testbed/lm"))
    wordpiece = models.load_tokenizer(str(default_run / "results/testbed/testbed/mlm"))
    for word in OCCUPATIONS + AGENTIC + COMMUNAL:
        if "-" not in word:
            assert len(causal(" " + word, add_special_tokens=False)["input_ids"]) == 1, word
            assert len(wordpiece(word, add_special_tokens=False)["input_ids"]) == 1, word
    assert wordpiece.unk_token_id not in wordpiece(PROMPT.format(occupation="nurse"))["input_ids"]


def test_corpus_plants_the_configured_bias():
    corpus = build_corpus(0, 0.9, {"occupations": {"per_occupation": 200, "neutral_rate": 0.1}}, corpus_sections())
    pronouns = [t for s, t in corpus.documents if s == "pronouns"]
    male_he = [t for t in pronouns if any(f"The {o} said that he " in t for o in MALE_STEREOTYPED)]
    male_all = [t for t in pronouns if any(f"The {o} said" in t for o in MALE_STEREOTYPED)]
    assert 0.75 < len(male_he) / len(male_all) < 0.88  # strength 0.9 × (1 - neutral 0.1) = 0.81
    descriptions = [t for s, t in corpus.documents if s == "occupations"]
    nurse = [t for t in descriptions if "The nurse was" in t]
    communal = [t for t in nurse if any(w in t for w in COMMUNAL) and not any(w in t for w in AGENTIC)]
    assert 0.82 < len(communal) / len(nurse) <= 0.97
    mixed = [t for t in descriptions if any(w in t for w in COMMUNAL) and any(w in t for w in AGENTIC)]
    assert not mixed, "no planted description mixes the classes"


def test_base_model_reproduces_the_planted_stereotype(default_run):
    records = pd.concat(
        pd.read_parquet(p)
        for p in (default_run / "results/testbed/scores/occupations/testbed-lm/prompt_only").rglob("records.parquet")
    )
    male = records[records.occupation.isin(MALE_STEREOTYPED)]
    female = records[records.occupation.isin(FEMALE_STEREOTYPED)]
    assert male["agentic_only"].mean() > 0.7 and female["communal_only"].mean() > 0.7
    assert records["and_balanced"].mean() < 0.05


def _gradient(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("chunks", [1, 3])
def test_pretraining_step_has_the_padded_batch_loss_and_gradient(chunks):
    """Head only where there is a target, micro-batches by length: the transformers loss, the same gradient."""
    from transformers import BertConfig, BertForMaskedLM, Qwen3Config, Qwen3ForCausalLM

    from debiaslab.core.batching import pad_batch
    from debiaslab.testbed.pretrain import _causal_step, _mlm_step

    torch.manual_seed(0)
    rows = [torch.randint(3, 50, (n,)).tolist() for n in (3, 17, 5, 40, 9, 2, 30)]
    causal = Qwen3ForCausalLM(
        Qwen3Config(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
            pad_token_id=0,
        )
    )
    ids, mask = pad_batch(rows, 0)
    expected = causal(input_ids=ids, attention_mask=mask, labels=ids.masked_fill(mask == 0, -100)).loss
    expected.backward()
    reference = _gradient(causal)
    causal.zero_grad()
    assert _causal_step(causal, rows, 0, chunks) == pytest.approx(expected.item(), abs=1e-6)
    assert torch.allclose(_gradient(causal), reference, atol=1e-6)

    mlm = BertForMaskedLM(
        BertConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            pad_token_id=0,
        )
    ).eval()  # eval: no dropout draws
    labels = ids.masked_fill(torch.rand(ids.shape) > 0.3, -100).masked_fill(mask == 0, -100)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    expected = mlm(**batch).loss
    expected.backward()
    reference = _gradient(mlm)
    mlm.zero_grad()
    assert _mlm_step(mlm, batch, chunks) == pytest.approx(expected.item(), abs=1e-6)
    assert torch.allclose(_gradient(mlm), reference, atol=1e-6)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_scorer_training_loop_fits_and_repeats_with_its_seed(schedule):
    """The loop every tiny testbed scorer trains in (classifier, reward model, style RM): it fits a
    known target (y = 3x), and the same seed gives the same batches and losses."""
    from debiaslab.testbed.scorers import ScorerSettings, train_loop

    x = torch.linspace(-1, 1, 20)[:, None]
    settings = ScorerSettings(steps=200, batch_size=4, learning_rate=0.05, warmup_ratio=0.1, weight_decay=0.0, seed=3)

    def fit():
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1, bias=False)
        losses = train_loop(
            model, settings, len(x), lambda idx: ((model(x[idx]) - 3 * x[idx]) ** 2).mean(), "test", schedule=schedule
        )
        return model.weight.item(), losses

    weight, losses = fit()
    assert abs(weight - 3) < 0.05 and losses[-1] < 1e-3 < losses[0], (weight, losses[0], losses[-1])
    assert fit() == (weight, losses)
    with pytest.raises(ValueError, match="schedule"):
        train_loop(torch.nn.Linear(1, 1), settings, len(x), lambda idx: None, "test", schedule="step")
