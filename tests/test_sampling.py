"""NucleusSampler draws from exactly the distribution of transformers' temperature + top-p warpers."""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

from debiaslab.generation.autoregressive import NucleusSampler


def reference_probs(scores, temperature, top_p):
    """What `generate(do_sample=True, temperature, top_p, top_k=0)` samples from."""
    warpers = LogitsProcessorList(
        [TemperatureLogitsWarper(temperature)] + ([TopPLogitsWarper(top_p)] if top_p < 1 else [])
    )
    return torch.softmax(warpers(None, scores.clone()), dim=-1)


def sampler_probs(scores, temperature, top_p, candidates):
    sampler = NucleusSampler(temperature, top_p, candidates=candidates)
    weights, ids = sampler.nucleus(torch.softmax(scores / temperature, dim=-1))
    dense = torch.zeros_like(scores).scatter_add_(-1, ids, weights)
    return dense / dense.sum(-1, keepdim=True)


@pytest.mark.parametrize("temperature,top_p", [(1.0, 0.95), (0.7, 0.9), (1.3, 0.5), (1.0, 1.0), (1.0, 0.01)])
def test_nucleus_is_the_transformers_top_p_distribution(temperature, top_p):
    torch.manual_seed(0)
    # peaked rows (nucleus of a few tokens), flat rows (nucleus wider than the first topk), one -inf-masked row
    scores = torch.cat([torch.randn(3, 500) * 6, torch.randn(3, 500) * 0.1, torch.randn(1, 500)])
    scores[-1, 10:] = float("-inf")
    for candidates in (4, 32):  # the flat rows make the partial sort widen
        ours, ref = sampler_probs(scores, temperature, top_p, candidates), reference_probs(scores, temperature, top_p)
        assert torch.equal(ours > 0, ref > 0)  # the same nucleus
        assert torch.allclose(ours, ref, atol=1e-6)


def test_hand_computed_nucleus():
    # p = 0.5, 0.3, 0.15, 0.05: top_p 0.79 keeps the first two (mass above the third is 0.8 >= 0.79), 0.81 three
    scores = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    for top_p, kept in (
        (0.79, [0.625, 0.375, 0.0, 0.0]),
        (0.81, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0]),
        (0.3, [1.0, 0.0, 0.0, 0.0]),
    ):
        assert torch.allclose(sampler_probs(scores, 1.0, top_p, 2), torch.tensor([kept]), atol=1e-6)


def test_draws_follow_the_nucleus_and_the_seed():
    scores = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log().expand(20000, 4).contiguous()
    sampler = NucleusSampler(1.0, 0.81)
    torch.manual_seed(3)
    out = sampler(None, scores)
    assert torch.equal(torch.isfinite(out).sum(-1), torch.ones(20000, dtype=torch.long))  # one token per row, score 0
    freq = torch.bincount(out.argmax(-1), minlength=4).float() / 20000
    assert torch.allclose(freq, torch.tensor([0.5, 0.3, 0.15, 0]) / 0.95, atol=0.015)
    torch.manual_seed(3)
    assert torch.equal(sampler(None, scores), out)


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="temperature > 0"):
        NucleusSampler(0.0, 0.9)
    with pytest.raises(ValueError, match="top_p <= 1"):
        NucleusSampler(1.0, 1.5)


def test_rows_past_their_eos_are_not_sampled():
    """generate() pads a finished row whatever is drawn; its flat distribution must not widen the search."""
    scores = torch.zeros(2, 50)  # flat: a nucleus of 48 tokens for top_p 0.95
    scores[:, 7] = 0.5
    sampler = NucleusSampler(1.0, 0.95, candidates=4, eos_ids=[3], prompt_width=2)
    seen = []
    nucleus = sampler.nucleus
    sampler.nucleus = lambda probs: seen.append(probs.clone()) or nucleus(probs)
    out = sampler(torch.tensor([[5, 6, 3], [5, 6, 9]]), scores)
    assert out[0].argmax() == 7 and torch.equal(seen[0][0], torch.nn.functional.one_hot(torch.tensor(7), 50).float())
    assert torch.equal(seen[0][1], torch.softmax(scores[1], -1))  # the unfinished row keeps its distribution
