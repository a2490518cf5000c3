"""REINFORCE loss, baselines and KL against the formulas by hand (docs/experiments/reward_guided.md#method)."""

import math

import numpy as np
import pytest
import torch

from debiaslab.core.config import build
from debiaslab.methods.policy import CausalPolicy, counted_tokens, token_kl
from debiaslab.methods.reinforce import (
    ReinforceSettings,
    advantages,
    baseline_values,
    batch_schedule,
    reinforce_loss,
    total_steps,
)

THETA = [0.3, -0.2, 0.5]  # a toy policy: one categorical over 3 "sequences", log p(x) = log softmax(θ)[x]
SAMPLES = [0, 2]
REWARDS = [-0.2, -0.9]


def softmax(theta):
    e = np.exp(np.array(theta) - max(theta))
    return e / e.sum()


def autograd(baseline):
    theta = torch.tensor(THETA, requires_grad=True)
    rewards = torch.tensor(REWARDS, requires_grad=True)  # must not receive a gradient: R is detached
    logp = torch.log_softmax(theta, dim=0)[SAMPLES]
    loss = reinforce_loss(logp, rewards, baseline)
    loss.backward()
    return loss.item(), theta.grad.numpy(), rewards.grad


@pytest.mark.parametrize(
    "baseline, b",
    [
        ("none", [0.0, 0.0]),
        ("batch_mean", [(-0.2 - 0.9) / 2] * 2),
        ("leave_one_out", [-0.9, -0.2]),  # each sample's baseline is the *other* sample's reward
    ],
)
def test_two_sample_gradient_matches_reinforce_by_hand(baseline, b):
    # REINFORCE: ∇L = −(1/N) Σ_i (R_i − b_i) ∇log p(x_i), and ∇_θ log softmax(θ)[x] = e_x − π
    pi = softmax(THETA)
    hand = -sum((r - bi) * (np.eye(3)[x] - pi) for x, r, bi in zip(SAMPLES, REWARDS, b)) / 2
    hand_loss = -sum((r - bi) * math.log(pi[x]) for x, r, bi in zip(SAMPLES, REWARDS, b)) / 2
    loss, grad, reward_grad = autograd(baseline)
    assert grad == pytest.approx(hand, abs=1e-6)
    assert loss == pytest.approx(hand_loss, abs=1e-6)
    assert reward_grad is None, "R is detached: no gradient may flow into the reward"


def test_descending_the_loss_favours_the_higher_reward_sample():
    # defect (a): the source minimised +mean(log p · R), which raises p of the *worse* (more biased) sample
    pi = softmax(THETA)
    for baseline in ("none", "batch_mean", "leave_one_out"):
        _, grad, _ = autograd(baseline)
        after = softmax(np.array(THETA) - 0.5 * grad)
        assert after[0] / after[2] > pi[0] / pi[2], baseline  # sample 0 has the higher reward (−0.2 > −0.9)
    theta = torch.tensor(THETA, requires_grad=True)
    logp = torch.log_softmax(theta, dim=0)[SAMPLES]
    (logp * torch.tensor(REWARDS)).mean().backward()  # the source's loss
    after = softmax(np.array(THETA) - 0.5 * theta.grad.numpy())
    assert after[0] / after[2] < pi[0] / pi[2]


def test_baselines_and_microbatch_accumulation():
    r = torch.tensor([-1.0, -0.5, 0.0, -0.1])
    assert baseline_values(r, "none").tolist() == [0, 0, 0, 0]
    assert baseline_values(r, "batch_mean").tolist() == pytest.approx([-0.4] * 4)
    assert baseline_values(r, "leave_one_out").tolist() == pytest.approx([-0.2, -1.1 / 3, -1.6 / 3, -0.5])
    # the trainer's microbatch losses −Σ_mb (R − b)·log p / B add up to the full-batch loss
    logp = torch.tensor([-3.0, -2.0, -4.0, -1.5], requires_grad=True)
    a = advantages(r, "leave_one_out")
    accumulated = sum(-(a[s] * logp[s]).sum() / 4 for s in (slice(0, 2), slice(2, 4)))
    assert accumulated.item() == pytest.approx(reinforce_loss(logp, r, "leave_one_out").item(), abs=1e-6)


def test_token_kl_both_directions_by_hand():
    policy = torch.tensor([[0.0, math.log(3.0)]])  # p = (1/4, 3/4)
    base = torch.tensor([[0.0, 0.0]])  # q = (1/2, 1/2)
    p_q = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    q_p = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert token_kl(policy, base, "policy_base").item() == pytest.approx(p_q)
    assert token_kl(policy, base, "base_policy").item() == pytest.approx(q_p)
    assert token_kl(base, base).item() == 0
    with pytest.raises(ValueError, match="kl_direction"):
        token_kl(policy, base, "lora_base")


def test_schedule_covers_every_prompt_once_per_epoch():
    steps = batch_schedule(10, 5, 4, seed=3)
    assert sorted(steps[0] + steps[1]) == list(range(10)) and sorted(steps[2] + steps[3]) == list(range(10))
    assert batch_schedule(10, 5, 4, seed=3) == steps and batch_schedule(10, 5, 4, seed=4) != steps
    assert total_steps(build(ReinforceSettings, {"batch_size": 64, "epochs": 1}), 1000) == 16
    assert total_steps(build(ReinforceSettings, {"max_steps": 7}), 1000) == 7


def test_settings_defaults_are_the_source_values_and_checked():
    s = ReinforceSettings()
    assert (s.learning_rate, s.batch_size, s.micro_batch_size) == (2e-5, 64, 8)
    assert (s.lora.r, s.lora.alpha, s.lora.dropout) == (4, 8, 0.1) and "attn_out" in s.lora.target_modules
    assert (s.reward.kl_coef, s.reward.kl_direction) == (0.1, "policy_base")
    assert (s.reward.genbit.context_window, s.reward.genbit.distance_weight, s.reward.genbit.percentile_cutoff) == (
        5,
        0.95,
        80,
    )
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        build(ReinforceSettings, {"batch_size": 10, "micro_batch_size": 4}).check()
    with pytest.raises(ValueError, match="baseline"):
        build(ReinforceSettings, {"baseline": "mean"}).check()


def test_generated_positions_end_at_the_first_eos():
    assert counted_tokens([5, 6, 9, 0, 0], [0, 9]) == [5, 6, 9]  # EOS counts, padding after it does not
    assert counted_tokens([5, 6, 7], [0, 9]) == [5, 6, 7]  # truncated: every token counts


def test_causal_policy_batch_pads_prompts_left_and_counts_completions_to_the_first_eos():
    """The training pass's rows: prompt left-padded, completion cut after its first EOS and right-padded to
    the longest raw completion; gen_mask marks exactly the counted completion tokens (by hand)."""
    policy = CausalPolicy.__new__(CausalPolicy)  # batch() needs only these: no model to load
    policy.model, policy.eos_ids = torch.nn.Linear(1, 1), [9]
    policy.tokenizer = type("Tok", (), {"pad_token_id": 0})()
    t = policy.batch([[1, 2, 3], [4]], [[5, 9, 6, 6], [7]])
    assert t["input_ids"].tolist() == [[1, 2, 3, 5, 9, 0, 0], [0, 0, 4, 7, 0, 0, 0]]
    assert t["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 0]]
    assert t["gen_mask"].tolist() == [
        [False] * 3 + [True, True, False, False],
        [False] * 3 + [True, False, False, False],
    ]
    empty = policy.batch([[1]], [[]])  # nothing generated: still one (padding) completion column
    assert empty["input_ids"].tolist() == [[1, 0]] and empty["gen_mask"].tolist() == [[False, False]]


def test_estimator_names_what_the_update_is_at_each_sampling_setting():
    """T = 0: argmax sampling, a deterministic-policy update; T = 1: the exact score function where log p is
    the sampler's (causal; diffusion with random remasking); otherwise the paper's surrogate."""
    from debiaslab.methods.reinforce import estimator

    assert estimator(0.0) == estimator(0.0, True, "random") == "deterministic_policy"
    assert estimator(1.0) == estimator(1.0, True, "random") == "score_function"
    assert estimator(0.7) == estimator(1.0, True, "low_confidence") == estimator(0.7, True, "random") == "surrogate"
