"""The occupations methods: INLP's projection, gen+filter's selection, the workflow's constrained runs."""

import numpy as np
import pandas as pd
import pytest

from debiaslab.methods.gen_filter import select
from debiaslab.methods.inlp import INLPSettings, fit_projection, nullspace_intersection, rowspace_projection


def test_nullspace_projection_removes_exactly_the_classifier_directions():
    P = nullspace_intersection([np.array([[2.0, 0, 0]]), np.array([[0, 1.0, 1.0]])], 3)
    assert np.allclose(P @ np.array([1.0, 0, 0]), 0)
    assert np.allclose(P @ np.array([0, 1.0, 1.0]), 0)
    assert np.allclose(P @ np.array([0, 1.0, -1.0]), [0, 1.0, -1.0])  # orthogonal to both: kept
    assert np.allclose(P, P.T) and np.allclose(P @ P, P)
    assert np.allclose(rowspace_projection(np.array([3.0, 4.0])), np.outer([0.6, 0.8], [0.6, 0.8]))


def test_inlp_removes_a_planted_linear_direction():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    X = rng.normal(size=(400, 10))
    X[:, 3] += 4 * (2 * y - 1)  # gender lives (linearly) in one direction
    P, history = fit_projection(X, y, INLPSettings(iterations=5, dev_fraction=0.3), seed=0)
    assert history[0] > 0.95 and history[-1] < 0.65
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(max_iter=1000).fit(X[:300] @ P, y[:300])
    assert probe.score(X[300:] @ P, y[300:]) < 0.65


def test_gen_filter_keeps_first_accepted_candidate_and_counts():
    rows = [{"id": 1}, {"id": 2}]
    cands = [["bad", "good-1", "good-2"], ["bad", "bad"]]
    chosen, found, n_ok = select(rows, cands, lambda row, text: text.startswith("good"))
    assert chosen == ["good-1", "bad"] and found == [True, False] and n_ok == [2, 0]


@pytest.mark.workflow
def test_dpo_and_sft_raise_and_balance_over_prompt_only(default_run):
    table = pd.read_csv(default_run / "results/tables/occupations.csv").set_index(["method", "split"])
    for method, margin in (("sft", 30.0), ("dpo", 15.0)):
        for split in ("train", "heldout"):
            gain = table.loc[(method, split), "AND % mean"] - table.loc[("prompt_only", split), "AND % mean"]
            assert gain >= margin, (method, split, gain)
            assert table.loc[(method, split), "AND % p vs base"] < 0.05


@pytest.mark.workflow
def test_constrained_outputs_contain_a_term_of_each_class_in_the_window(default_run):
    """The workflow's constrained runs (tests/test_constrained.py tests the decoder itself)."""
    records = pd.concat(pd.read_parquet(p) for p in
                        (default_run / "results/scores/occupations/testbed-lm/constrained").rglob("records.parquet"))
    assert len(records) > 0
    assert records["and_balanced"].all(), records.loc[~records["and_balanced"], "sentence"].head().tolist()
    assert records["length_compliant"].mean() >= 0.95, records.loc[~records["length_compliant"], "sentence"].head().tolist()


@pytest.mark.workflow
def test_gen_filter_reports_acceptance(default_run):
    table = pd.read_csv(default_run / "results/tables/occupations.csv").set_index(["method", "split"])
    rate = table.loc[("gen_filter", "train"), "filter accepted % mean"]
    assert 0 <= rate <= 100
    # a post-hoc filter cannot beat its acceptance rate: kept responses are balanced only when accepted
    assert table.loc[("gen_filter", "train"), "AND % mean"] == pytest.approx(rate, abs=1e-6)


@pytest.mark.workflow
def test_inlp_projection_leaves_a_fresh_probe_at_chance(default_run):
    """A new probe (not INLP's own classifiers) trained on training-occupation sentences and tested on
    held-out occupations: near perfect on the raw hidden states, near chance after the projection."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from debiaslab import models
    from debiaslab.data.occupations import HELDOUT, OCCUPATIONS, gender_probe_rows
    from debiaslab.methods.inlp import hidden_features, load_projection

    lm_dir = str(default_run / "results/testbed/lm")
    lm, tok = models.load_model(lm_dir), models.load_tokenizer(lm_dir)

    def features(occupations):
        rows = pd.DataFrame(gender_probe_rows(occupations))
        return hidden_features(lm, tok, rows["text"].tolist()), (rows["gender"] == "female").to_numpy().astype(int)

    X_train, y_train = features([o for o in OCCUPATIONS if o not in HELDOUT])
    X_test, y_test = features(HELDOUT)
    for seed in (42, 123, 456):
        P = load_projection(default_run / f"results/train/occupations/testbed-lm/inlp/seed~{seed}/projection")

        def probe_accuracy(A, B):
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(A, y_train)
            return probe.score(B, y_test)

        assert probe_accuracy(X_train, X_test) >= 0.95
        assert probe_accuracy(X_train @ P, X_test @ P) <= 0.65
