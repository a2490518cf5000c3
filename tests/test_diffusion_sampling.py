"""Masked-diffusion sampling against hand-computed values: which positions `low_confidence` unmasks, the
distribution Gumbel-max draws from at temperature T, and the per-position KL a diffusion rollout reports.

Unit tests: no workflow run. The sampler is driven by a mask predictor whose logits are a fixed table
(so every confidence and probability is known by hand) and, for the KL, by a tiny randomly initialised
BERT with a random LoRA adapter (so policy and base differ)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from debiaslab.generation.diffusion import DiffusionSettings, sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V, MASK = 5, 4  # four real tokens and the mask token, which the table never predicts


class TableModel(torch.nn.Module):
    """A mask predictor whose logits at each position are a fixed table, chosen per row by the row's first
    prompt token: logits = table[input_ids[:, 0]] (shape (rows, L, V))."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)

    def forward(self, input_ids):
        return SimpleNamespace(logits=self.table[input_ids[:, 0]][:, : input_ids.shape[1]])


def logits_with_top_probability(top: list[float]) -> torch.Tensor:
    """(len(top), V) logits whose softmax gives token 0 probability top[i] (> 1/4: the argmax) and the other
    three real tokens (1 − top[i])/3 each; the mask token gets none."""
    rows = []
    for p in top:
        rest = (1 - p) / 3
        rows.append([np.log(p), np.log(rest), np.log(rest), np.log(rest), -1e9])
    return torch.tensor(rows, dtype=torch.float32)


def test_low_confidence_unmasks_the_most_confident_masked_positions_of_the_block():
    """Two rows, two blocks of 4, 2 steps per block (2 unmasked per step). At T = 0 the drawn token is the
    argmax, so a position's confidence is its top probability; by hand the order is:
    row 0, block 1 confidences [.4 .9 .6 .7] → positions {1, 3} then {0, 2}; block 2 [.5 .3 .8 .35] → {4, 6}
    then {5, 7}; row 1 [.7 .6 .9 .4 | .32 .8 .3 .95] → {0, 2}, {1, 3}, {5, 7}, {4, 6}: its most confident
    position (.95, in block 2) waits for its block."""
    prompt = 1
    conf = {0: [0.4, 0.9, 0.6, 0.7, 0.5, 0.3, 0.8, 0.35], 1: [0.7, 0.6, 0.9, 0.4, 0.32, 0.8, 0.3, 0.95]}
    table = torch.zeros(2, prompt + 8, V)
    for row, top in conf.items():
        table[row, prompt:] = logits_with_top_probability(top)
    settings = DiffusionSettings(gen_length=8, steps=4, block_length=4, temperature=0.0, remasking="low_confidence")
    traj = sample(TableModel(table), torch.tensor([[0], [1]]), settings, MASK, record=True)
    unmasked = [
        [sorted((traj.transfers[s, r].nonzero().flatten() - prompt).tolist()) for s in range(4)] for r in (0, 1)
    ]
    assert unmasked[0] == [[1, 3], [0, 2], [4, 6], [5, 7]]
    assert unmasked[1] == [[0, 2], [1, 3], [5, 7], [4, 6]]
    assert (traj.generated == 0).all()  # the argmax token everywhere


def test_low_confidence_follows_confidence_when_sampling():
    """At T = 1 the drawn token is random, but here every position's distribution is uniform over its own
    support, so the probability of whatever token it draws (its confidence) is 1/support: with one unmasked
    per step, positions must come in order of support size 1, 2, 3, 4 whatever the draws (five seeds)."""
    support = [3, 1, 4, 2]  # block positions 0..3
    table = torch.full((1, 1 + 4, V), -1e9)
    for pos, m in enumerate(support):
        table[0, 1 + pos, :m] = 0.0
    settings = DiffusionSettings(gen_length=4, steps=4, block_length=4, temperature=1.0, remasking="low_confidence")
    for seed in range(5):
        traj = sample(
            TableModel(table),
            torch.zeros(3, 1, dtype=torch.long),
            settings,
            MASK,
            generator=torch.Generator().manual_seed(seed),
            record=True,
        )
        order = [(traj.transfers[:, row].nonzero()[:, 1] - 1).tolist() for row in range(3)]  # position per step
        assert order == [[1, 3, 0, 2]] * 3, seed
        for pos, m in enumerate(support):
            assert (traj.generated[:, pos] < m).all()  # drawn inside its support


def test_low_confidence_uses_the_probability_of_the_drawn_token_not_the_argmax():
    """Position A draws token 0 or 1 at 0.5 each (confidence 0.5 either way); position B token 0 at 0.6 or
    token 1 at 0.4. One unmasked per step: B goes first exactly when it drew token 0 (0.6 > 0.5), so every row
    that unmasked B first holds token 0 there, and in about 40 % of rows A goes first. (Ranking by the top
    probability would always unmask B first, whatever it drew.)"""
    table = torch.full((1, 3, V), -1e9)
    table[0, 1, :2] = 0.0
    table[0, 2, :2] = torch.log(torch.tensor([0.6, 0.4]))
    settings = DiffusionSettings(gen_length=2, steps=2, block_length=2, temperature=1.0, remasking="low_confidence")
    traj = sample(
        TableModel(table),
        torch.zeros(400, 1, dtype=torch.long),
        settings,
        MASK,
        generator=torch.Generator().manual_seed(0),
        record=True,
    )
    b_first = traj.transfers[0, :, 2]
    assert (traj.generated[b_first, 1] == 0).all()
    assert 0.3 <= 1 - b_first.float().mean().item() <= 0.5


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_gumbel_max_draws_from_the_tempered_softmax(temperature):
    """10 rows × 2,000 positions, all unmasked in one step, each an independent Gumbel-max draw from the same
    logits l: the token frequencies equal softmax(l / T) within 0.01 (3σ at 20,000 draws) and pass a
    chi-square test. T applied twice (softmax(l/T²)) or noise without the log (exp(l)/U^T) are off by
    ≥ 0.047 at these temperatures."""
    from scipy.stats import chisquare

    logits = torch.tensor([1.0, 0.0, -1.0, 0.5, -1e9])
    n_rows, length = 10, 2000
    table = logits.expand(1, 1 + length, V)
    settings = DiffusionSettings(gen_length=length, steps=1, block_length=length, temperature=temperature)
    traj = sample(
        TableModel(table),
        torch.zeros(n_rows, 1, dtype=torch.long),
        settings,
        MASK,
        generator=torch.Generator().manual_seed(0),
    )
    counts = np.bincount(traj.generated.flatten().numpy(), minlength=V)
    expected = torch.softmax(logits[:4].double() / temperature, 0).numpy()
    assert counts[MASK] == 0
    assert np.abs(counts[:4] / counts.sum() - expected).max() <= 0.01, (counts / counts.sum(), expected)
    assert chisquare(counts[:4], expected * counts.sum()).pvalue > 1e-3


# --- the per-position KL of a diffusion rollout -------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_lora_bert():
    """A randomly initialised 1-layer BERT (wide initialisation: peaked, state-dependent predictions) with a
    randomly initialised LoRA adapter on query/value, so policy (adapter on) and base (off) differ."""
    from peft import LoraConfig, get_peft_model
    from transformers import BertConfig, BertForMaskedLM

    from debiaslab.testbed.tokenizer import train_mlm

    words = "the nurse doctor pilot said that they he she was kind bold tired late early home work".split()
    tokenizer = train_mlm([" ".join(words)] * 3, vocab_size=64)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=64,
        initializer_range=0.5,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = get_peft_model(
        BertForMaskedLM(config),
        LoraConfig(r=2, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=False),
    )
    return model.eval(), tokenizer


def kl_by_hand(p_logits, q_logits) -> float:
    """KL(p‖q) = Σ_v p_v (log p_v − log q_v) of two logit vectors, in float64."""
    p = np.exp(p_logits - np.logaddexp.reduce(p_logits))
    return float(np.sum(p * ((p_logits - np.logaddexp.reduce(p_logits)) - (q_logits - np.logaddexp.reduce(q_logits)))))


@pytest.mark.parametrize("direction", ["policy_base", "base_policy"])
def test_diffusion_kl_is_taken_per_position_at_the_step_that_unmasked_it(tiny_lora_bert, direction):
    """rollout().kl[b] = (1/gen_length) Σ_positions KL(policy‖base) of that position's distributions in the state
    of the step that unmasked it (base: the same network, adapter off); base_policy swaps the arguments."""
    from debiaslab.methods.policy import DiffusionPolicy

    model, tokenizer = tiny_lora_bert
    settings = DiffusionSettings(gen_length=6, steps=4, block_length=3)
    policy = DiffusionPolicy(model, tokenizer, settings, kl_direction=direction)
    rollout = policy.rollout(["the nurse said that", "the pilot said that"], temperature=1.0, seed=0)[0]
    traj = rollout.tensors["trajectory"]
    expected = np.zeros(2)
    with torch.no_grad():
        for state, transfer in zip(traj.states, traj.transfers):
            on = model(input_ids=state).logits.double().numpy()
            with model.disable_adapter():
                off = model(input_ids=state).logits.double().numpy()
            for b, pos in transfer.nonzero().tolist():
                p, q = (on, off) if direction == "policy_base" else (off, on)
                expected[b] += kl_by_hand(p[b, pos], q[b, pos]) / settings.gen_length
        # the KL of the final state's distributions would be another number: the step matters
        final_on = model(input_ids=traj.sequences).logits.double().numpy()
        with model.disable_adapter():
            final_off = model(input_ids=traj.sequences).logits.double().numpy()
    start = traj.prompt_length
    at_the_end = [
        np.mean([kl_by_hand(final_on[b, c], final_off[b, c]) for c in range(start, start + 6)]) for b in (0, 1)
    ]
    assert expected.min() > 1e-3 and np.abs(np.array(at_the_end) - expected).min() > 1e-3
    assert rollout.kl.tolist() == pytest.approx(expected.tolist(), rel=1e-4)
    assert rollout.n_generated.tolist() == [6, 6]
