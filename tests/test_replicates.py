"""Every scorer stores beside each value its bootstrap replicates: the same metric recomputed on seeded
resamples of its items (core.statistics.Bootstrap) — checked here against the formula on the resample.
(Evaluations: tests/test_evals.py; safety's summary: tests/test_response_scores.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from debiaslab.core.statistics import RESAMPLES, Bootstrap


def test_balance_replicates_are_the_metrics_of_resampled_responses():
    from debiaslab.metrics.balance import lexical_diversity, score_responses

    responses = pd.DataFrame(
        {
            "split": ["train"] * 4,
            "occupation": ["nurse", "nurse", "pilot", "pilot"],
            "prefix": ["The nurse was"] * 2 + ["The pilot was"] * 2,
            "response": [' caring and bold."', ' kind."', ' bold and confident."', ' calm."'],
        }
    )
    records, values = score_responses(responses, seed=7)
    by = {(v["subset"], v["metric"]): v for v in values}
    idx = Bootstrap(7).indices(4)
    flags = records["and_balanced"].to_numpy(dtype=float)
    assert np.asarray(by[("all", "and_balanced_rate")]["replicates"]) == pytest.approx(flags[idx].mean(axis=1))
    b = 5  # any resample: the lexical metrics recomputed on its responses
    expected = lexical_diversity(
        [records["agentic_terms"][i] for i in idx[b]], [records["communal_terms"][i] for i in idx[b]]
    )
    for metric, value in expected.items():
        assert by[("all", metric)]["replicates"][b] == pytest.approx(value)
    assert len(by[("nurse", "and_balanced_rate")]["replicates"]) == RESAMPLES  # per-occupation rows too


def test_rm_sweep_replicates_resample_questions_alike_for_every_lambda():
    from debiaslab.data.answer_styles import STYLES
    from debiaslab.experiments.rm_forget.scoring import sweep_metrics
    from debiaslab.metrics.rmbench import rmbench_accuracy

    rng = np.random.default_rng(0)
    rows, scores = [], []
    for item in range(5):
        for correct in (True, False):
            for style in STYLES:
                rows.append({"id": f"q{item}", "style": style, "correct": correct})
                scores.append(float(rng.normal()))
    boot = Bootstrap(42)
    values = {v["metric"]: v for v in sweep_metrics(rows, scores, boot)}
    chosen = np.array(scores).reshape(5, 2, 3)[:, 0, :]
    rejected = np.array(scores).reshape(5, 2, 3)[:, 1, :]
    idx = boot.indices(5)
    assert values["rmbench_hard"]["value"] == pytest.approx(rmbench_accuracy(chosen, rejected)["hard"])
    assert values["rmbench_hard"]["replicates"][3] == pytest.approx(
        rmbench_accuracy(chosen[idx[3]], rejected[idx[3]])["hard"]
    )
    # another λ scores the same questions: the same resamples, so differences between λ are paired by question
    shifted = [s + (0.5 if r["style"] == STYLES[-1] else 0.0) for r, s in zip(rows, scores)]
    hard = {v["metric"]: v for v in sweep_metrics(rows, shifted, boot)}["rmbench_hard"]["replicates"][3]
    pairs = np.array(shifted).reshape(5, 2, 3)[idx[3]]
    assert hard == pytest.approx(rmbench_accuracy(pairs[:, 0, :], pairs[:, 1, :])["hard"])


def test_desired_distribution_replicates_resample_occupations():
    from debiaslab.experiments.desired_distribution.scoring import detection_values

    records = pd.DataFrame(
        {
            "split": ["test"] * 4,
            "prof_gender": ["male_dominated"] * 2 + ["balanced"] * 2,
            "kl_equal": [0.1, 0.3, 0.0, 0.2],
            "kl_real_world": [0.2, 0.2, 0.1, 0.5],
            "p_male": [0.9, 0.8, 0.5, 0.6],
        }
    )
    values = {(v["subset"], v["metric"]): v for v in detection_values(records, seed=42)}
    idx = Bootstrap(42).indices(4)
    kl = records["kl_equal"].to_numpy()
    assert np.asarray(values[("all", "kl_equal_mean")]["replicates"]) == pytest.approx(kl[idx].mean(axis=1))
    assert np.asarray(values[("all", "kl_equal_var")]["replicates"]) == pytest.approx(kl[idx].var(axis=1, ddof=1))
    assert len(values[("balanced", "p_male_mean")]["replicates"]) == RESAMPLES


def test_reward_guided_replicates_rescore_genbit_on_resampled_responses():
    from debiaslab.experiments.reward_guided.scoring import METRICS, cell_values
    from debiaslab.metrics.genbit import GenBit

    texts = ["he is a nurse", "she is a pilot", "they are kind", "he said she", "the person is calm", "she is kind"]
    records = pd.DataFrame(
        {
            "response": texts,
            "bias": [0.5, 0.2, 0.0, 0.1, 0.0, 0.3],
            "gendered_pronoun": [True, True, False, True, False, True],
            "neutral_option": [False, False, True, False, True, False],
            "stereotyped_option": [True, False, False, False, False, True],
            "kl": [0.1, 0.2, 0.0, 0.3, 0.1, 0.2],
            "reward": [-0.5, -0.2, 0.0, -0.1, 0.0, -0.3],
        }
    )
    genbit, boot = GenBit(), Bootstrap(1)
    values = {v["metric"]: v for v in cell_values(records, genbit, "n=0,T=1", boot)}
    assert list(values) == list(METRICS)
    idx = boot.indices(6)
    b = 2
    assert values["genbit_score"]["replicates"][b] == pytest.approx(
        genbit.score([texts[i] for i in idx[b]])["genbit_score"], nan_ok=True
    )
    assert values["gendered_pronoun_rate"]["replicates"][b] == pytest.approx(
        records["gendered_pronoun"].to_numpy()[idx[b]].mean()
    )
    assert "replicates" not in values["genbit_identity_lemmatizer"]  # a flag: nothing to resample
