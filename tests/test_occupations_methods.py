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
    table = pd.read_csv(default_run / "results/testbed/tables/occupations.csv").set_index(["method", "split"])
    for method, margin in (("sft", 30.0), ("dpo", 15.0)):
        for split in ("train", "heldout"):
            gain = table.loc[(method, split), "AND % mean"] - table.loc[("prompt_only", split), "AND % mean"]
            assert gain >= margin, (method, split, gain)
            # the seed-stratified test of the responses (CMH: the per-seed Mann–Whitney U combined), Holm-adjusted
            assert table.loc[(method, split), "AND % p items Holm"] < 0.05
            assert table.loc[(method, split), "AND % Δ ci low"] > 0  # the Student-t CI of Δ over seeds excludes 0


@pytest.mark.workflow
def test_constrained_outputs_contain_a_term_of_each_class_in_the_window(default_run):
    """The workflow's constrained runs (tests/test_constrained.py tests the decoder itself)."""
    records = pd.concat(
        pd.read_parquet(p)
        for p in (default_run / "results/testbed/scores/occupations/testbed-lm/constrained").rglob("records.parquet")
    )
    assert len(records) > 0
    assert records["and_balanced"].all(), records.loc[~records["and_balanced"], "sentence"].head().tolist()
    assert records["length_compliant"].mean() >= 0.95, (
        records.loc[~records["length_compliant"], "sentence"].head().tolist()
    )


def test_gen_filter_reports_acceptance():
    """The acceptance rate on hand-made candidates: acceptance needs an agentic AND a communal term AND
    8–15 words in the completed sentence; a row with no accepted candidate keeps its first, unaccepted."""
    from debiaslab.experiments.base import load
    from debiaslab.experiments.registry import get
    from debiaslab.metrics.balance import score_responses

    criterion = load(get("occupations").decoding["gen_filter"])  # the experiment's, as `debiaslab generate` gets it

    rows = [{"split": "train", "occupation": o, "prefix": f"The {o} was"} for o in ("nurse", "pilot", "chef", "writer")]
    candidates = [
        # 11 words, both classes: accepted at once
        [' caring and bold with patients every single day."', ' calm."'],
        # both classes but 6 words; the second has 10 words but one class only: nothing accepted
        [' caring and bold."', ' caring and kind to all of the passengers."'],
        # both classes but 16 words, then 11 words with both: the second is kept
        [
            ' bold and caring with every guest in the busy kitchen on every single long day."',
            ' bold and caring with every guest every night."',
        ],
        # both classes in exactly 8 words, and 9: both accepted, the first kept (the word limits are inclusive)
        [' confident and helpful with editors."', ' confident and helpful with her editors."'],
    ]
    chosen, found, n_ok = select(rows, candidates, criterion)
    assert found == [True, False, True, True] and n_ok == [1, 0, 1, 2]
    assert chosen == [candidates[0][0], candidates[1][0], candidates[2][1], candidates[3][0]]
    responses = pd.DataFrame(rows).assign(response=chosen, filter_accepted=found)
    _, values = score_responses(responses)
    got = {v["metric"]: v["value"] for v in values if v["subset"] == "all"}
    assert got["filter_acceptance_rate"] == pytest.approx(3 / 4)
    # the kept 6-word response has both terms: AND-balanced, not accepted (a length-blind filter would say 4/4)
    assert got["and_balanced_rate"] == pytest.approx(4 / 4) and got["length_compliant_rate"] == pytest.approx(3 / 4)


@pytest.mark.workflow
def test_inlp_projection_leaves_a_fresh_probe_at_chance(default_run):
    """A new probe (not INLP's own classifiers) trained on training-occupation sentences and tested on
    held-out occupations: near perfect on the raw hidden states, near chance after the projection."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from debiaslab import models
    from debiaslab.data.occupations import OCCUPATIONS
    from debiaslab.experiments.occupations.data import HELDOUT, gender_probe_rows
    from debiaslab.methods.inlp import hidden_features, load_projection

    lm_dir = str(default_run / "results/testbed/testbed/lm")
    lm, tok = models.load_model(lm_dir), models.load_tokenizer(lm_dir)

    def features(occupations):
        rows = pd.DataFrame(gender_probe_rows(occupations))
        return hidden_features(lm, tok, rows["text"].tolist()), (rows["gender"] == "female").to_numpy().astype(int)

    X_train, y_train = features([o for o in OCCUPATIONS if o not in HELDOUT])
    X_test, y_test = features(HELDOUT)
    for seed in (42, 123, 456):
        P = load_projection(default_run / f"results/testbed/train/occupations/testbed-lm/inlp/seed~{seed}/projection")

        def probe_accuracy(A, B):
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(A, y_train)
            return probe.score(B, y_test)

        assert probe_accuracy(X_train, X_test) >= 0.95
        assert probe_accuracy(X_train @ P, X_test @ P) <= 0.65
