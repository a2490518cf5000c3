"""Constrained decoding (generation/constrained.py): DBA's beam allocation and SBS's Gumbel conditioning
by their formulas; on the testbed LM, whole sentences in the word window with an agentic and a communal
term, text the model itself rates (perplexity near prompt-only's), different samples per seed."""

from __future__ import annotations

import math

import pytest

from debiaslab.generation.constrained import allocate, bank_quotas, shift_gumbel

INF = float("-inf")


def test_bank_quotas_share_the_beam_evenly_remainder_to_the_fullest_banks():
    assert bank_quotas(8, 3) == [2, 3, 3]
    assert bank_quotas(4, 3) == [1, 1, 2]
    assert bank_quotas(3, 3) == [1, 1, 1]
    assert bank_quotas(2, 3) == [0, 1, 1]


def test_allocate_takes_each_banks_share_then_the_fullest_bank():
    import torch

    #                       0    1    2    3    4    5    6    7
    score = torch.tensor([[9.0, 8.0, 7.0, 6.0, 5.0, 4.0, INF, 3.0], [9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0]])
    bank = torch.tensor([[0, 0, 0, 1, 2, 2, 2, 1], [0, 0, 0, 0, 0, 0, 0, 2]])
    picked = allocate(score, bank, [1, 1, 2]).tolist()
    # sample 0: bank 0's best (0), bank 1's best (3), bank 2's best two (4, 5; 6 is not allowed)
    assert picked[0] == [4, 5, 3, 0]
    # sample 1: bank 1 is empty and bank 2 short: their slots go to the best of the rest (bank 0: 1, 2)
    assert picked[1] == [7, 0, 1, 2]


def test_shift_gumbel_is_kool_et_al_conditioning_on_the_parent():
    """SBS eq. (11): G = -log(exp(-T) - exp(-Z) + exp(-g)), Z the children's maximum, T the parent's."""
    import torch

    g = torch.tensor([[1.0, 0.5, -2.0]])
    parent = torch.tensor([[0.3]])
    shifted = shift_gumbel(g, parent, g.max(-1, keepdim=True).values)[0].tolist()
    expected = [-math.log(math.exp(-0.3) - math.exp(-1.0) + math.exp(-x)) for x in (1.0, 0.5, -2.0)]
    assert shifted == pytest.approx(expected, abs=1e-6)
    assert shifted[0] == pytest.approx(0.3)  # the best child keeps its parent's score exactly


# ----- on the testbed LM (the default run's): 20 occupations, the study's prompt -----

SAMPLES = 5


def run_constrained(lm_dir, settings: dict, seed: int = 0, samples: int = SAMPLES):
    """(records as the occupations metric scores them, per-token NLL of the sentences under the LM) of
    the constrained decoder (or, with settings None, plain sampling: prompt-only)."""
    import pandas as pd

    from debiaslab import models
    from debiaslab.data.occupations import OCCUPATIONS
    from debiaslab.evals.corpus_perplexity import causal_nll
    from debiaslab.experiments.occupations.data import HELDOUT, TERM_CLASSES, prompt_rows
    from debiaslab.generation import constrained
    from debiaslab.generation.autoregressive import SamplingSettings, generate
    from debiaslab.metrics.balance import score_responses

    tok = models.load_tokenizer(str(lm_dir), padding_side="left")
    lm = models.load_model(str(lm_dir))
    rows = prompt_rows([o for o in OCCUPATIONS if o not in HELDOUT], list(HELDOUT), samples)
    prompts = [r["prompt"] for r in rows]
    sampling = SamplingSettings(max_new_tokens=32, temperature=1.0, top_p=0.95, batch_size=64)  # the testbed's
    if settings is None:
        texts, extra = generate(lm, tok, prompts, sampling, seed), {}
    else:
        texts, _, extra = constrained.decode(lm, tok, prompts, rows, sampling, seed, settings, TERM_CLASSES)
    records, _ = score_responses(
        pd.DataFrame(rows).assign(response=texts),
        settings.get("min_words", 8) if settings else 8,
        settings.get("max_words", 15) if settings else 15,
    )
    nll, count = causal_nll(lm, tok, records["sentence"].tolist(), max_length=256, stride=128, batch_size=64)
    return records, sum(nll) / sum(count), extra


@pytest.fixture(scope="module")
def testbed_lm_dir(default_run, one_torch_thread):
    return default_run / "results/testbed/testbed/lm"


@pytest.fixture(scope="module")
def decoded(testbed_lm_dir):
    """The config's constrained decoding (beam 4) and prompt-only, same prompts and seed."""
    return {
        "constrained": run_constrained(testbed_lm_dir, {"beam_size": 4}),
        "prompt_only": run_constrained(testbed_lm_dir, None),
    }


@pytest.mark.workflow
def test_constrained_sentences_hold_both_classes_in_the_word_window(decoded):
    records, _, extra = decoded["constrained"]
    assert extra["constrained_unfinished"] == 0
    assert records["and_balanced"].all(), records.loc[~records["and_balanced"], "sentence"].head().tolist()
    # the old "and <term>" insertion met the window for 63 % of the testbed's sentences
    assert records["length_compliant"].mean() >= 0.95, (
        records.loc[~records["length_compliant"], "sentence"].head().tolist()
    )


@pytest.mark.workflow
def test_constrained_meets_a_narrowed_window(testbed_lm_dir):
    """The window is the search's, not the testbed's habit: its own sentences are 10–13 words (8–15 is
    no test); asked for 10–11, the search finds closed sentences of that length."""
    records, _, extra = run_constrained(testbed_lm_dir, {"beam_size": 4, "min_words": 10, "max_words": 11})
    compliant = records["and_balanced"] & records["length_compliant"]
    assert compliant.mean() >= 0.95, records.loc[~compliant, "sentence"].head().tolist()
    assert extra["constrained_unfinished"] <= 0.05 * len(records)


@pytest.mark.workflow
def test_constrained_text_is_the_models_own(decoded):
    """Per-token perplexity under the model near prompt-only's (the old insertion of "and <term>"
    tails: 9.5 vs 3.5, 2.7×); no sentence closes on a tail the model would not write."""
    import re

    from debiaslab.metrics.balance import AGENTIC, COMMUNAL

    records, nll, _ = decoded["constrained"]
    _, base_nll, _ = decoded["prompt_only"]
    assert math.exp(nll) <= 1.5 * math.exp(base_nll), (math.exp(nll), math.exp(base_nll))
    tail = re.compile(rf"\band ({'|'.join(AGENTIC + COMMUNAL)})\W*$")
    assert not records["sentence"].str.contains(tail).any()


@pytest.mark.workflow
def test_constrained_samples_differ_and_the_seed_repeats_them(testbed_lm_dir, decoded):
    records, _, _ = decoded["constrained"]
    again, _, _ = run_constrained(testbed_lm_dir, {"beam_size": 4})
    assert again["sentence"].tolist() == records["sentence"].tolist()
    other, _, _ = run_constrained(testbed_lm_dir, {"beam_size": 4}, seed=1)
    assert (other["sentence"] != records["sentence"]).mean() >= 0.9
    distinct = records.groupby("occupation")["sentence"].nunique()
    assert (distinct >= SAMPLES - 1).all(), distinct[distinct < SAMPLES - 1]
