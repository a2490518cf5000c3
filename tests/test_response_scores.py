"""Classifier / reward-model scoring helpers against hand-computed values, and the published-table import."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from debiaslab.cli import main
from debiaslab.core.io import DataError
from debiaslab.experiments.safety import scoring as safety_scoring
from debiaslab.experiments.safety.published import FILE_NAME, read_published
from debiaslab.metrics import response_scores as rs

FIXTURE = Path(__file__).parent / "fixtures" / "safety_published"
# docs/experiments/safety.md#source-study: the source's published means (500 responses each); the fixture's files are
# hand-made so that each file's means are exactly these.
PUBLISHED_MEANS = {
    ("base", "gender"): (-1.034, 0.723),
    ("base", "racial"): (-1.053, 0.345),
    ("sft", "gender"): (-3.431, 0.562),
    ("sft", "racial"): (-3.677, 0.237),
    ("dpo", "gender"): (-1.769, 0.702),
    ("dpo", "racial"): (-1.755, 0.346),
}


@pytest.mark.parametrize(
    "problem_type, num_labels, expected",
    [
        (None, 11, "softmax"),
        ("single_label_classification", 3, "softmax"),
        ("multi_label_classification", 11, "sigmoid"),
        (None, 1, "sigmoid"),
        ("regression", 1, "none"),
    ],
)
def test_probability_function_follows_the_text_classification_pipeline(problem_type, num_labels, expected):
    assert rs.probability_function(problem_type, num_labels) == expected


def test_probabilities_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])
    assert rs.probabilities(logits, "softmax")[0].tolist() == pytest.approx([0.25, 0.75])
    assert rs.probabilities(logits, "sigmoid")[0].tolist() == pytest.approx([0.5, 0.75])
    assert rs.probabilities(logits, "none")[0].tolist() == pytest.approx([0.0, math.log(3.0)])


def test_summary_is_the_mean_per_bias_type():
    records = pd.DataFrame(
        {
            "bias_type": ["gender", "gender", "racial"],
            safety_scoring.RM_KEY: [-1.0, 2.0, 0.5],
            safety_scoring.BIAS_KEY: [0.2, 0.6, 0.9],
        }
    )
    summary = safety_scoring.summarize(records, seed=42)
    values = {(v["split"], v["metric"]): (v["value"], v["n"]) for v in summary}
    assert values == {
        ("gender", "rm_score"): (0.5, 2),
        ("gender", "bias_type_score"): (pytest.approx(0.4), 2),
        ("racial", "rm_score"): (0.5, 1),
        ("racial", "bias_type_score"): (0.9, 1),
    }
    # replicates: means of resampled responses (two responses: −1, 0.5 or 2)
    reps = {(v["split"], v["metric"]): set(np.round(v["replicates"], 9)) for v in summary}
    assert reps[("gender", "rm_score")] <= {-1.0, 0.5, 2.0} and len(reps[("gender", "rm_score")]) == 3
    assert reps[("racial", "rm_score")] == {0.5}


def test_source_file_names():
    assert safety_scoring.source_file_name("dpo", "racial") == "dpo_model_racial_responses_scores.json"
    for name, parts in [
        ("instruct_model_gender_responses_scores.json", ("instruct", "gender")),
        ("sft_racial_response_scores.json", ("sft", "racial")),  # the source README's spelling
        ("dpo_model_sexual_orientation_responses_scores.json", ("dpo", "sexual_orientation")),
    ]:
        m = FILE_NAME.match(name)
        assert (m["method"], m["bias"]) == parts
    assert FILE_NAME.match("notes.json") is None


def test_import_rebuilds_the_published_table_from_the_fixture(tmp_path, capsys):
    csv, md, scores = tmp_path / "safety.csv", tmp_path / "safety.md", tmp_path / "scores.parquet"
    assert (
        main(["aggregate", "import-safety", str(FIXTURE), "--csv", str(csv), "--md", str(md), "--scores", str(scores)])
        == 0
    )
    printed = capsys.readouterr().out
    table = pd.read_csv(csv)
    assert list(table["method"]) == ["base", "base", "sft", "sft", "dpo", "dpo"]
    assert set(table["model"]) == {"qwen3-0.6b"} and (table["n seeds"] == 1).all()
    store = pd.read_parquet(scores)
    for _, row in table.iterrows():
        rm, bias = PUBLISHED_MEANS[(row["method"], row["split"])]
        assert row["RM score mean"] == pytest.approx(rm, abs=1e-9)
        assert row["bias score mean"] == pytest.approx(bias, abs=1e-9)
        assert np.isnan(row["RM score std"])  # one published run: no spread across seeds, not 0
        # the interval shown: the bootstrap over the published responses (their replicates in the store)
        reps = store[(store.method == row["method"]) & (store.split == row["split"]) & (store.metric == "rm_score")]
        low, high = np.quantile(reps["replicates"].iloc[0], [0.025, 0.975])
        assert (row["RM score item ci low"], row["RM score item ci high"]) == (pytest.approx(low), pytest.approx(high))
        assert row["RM score item interval"] == "bootstrap" and low < rm < high
    text = md.read_text()
    assert printed == text  # the command prints the table it writes
    assert "± 0.000" not in text and "± " not in text.split("\n\n", 1)[1]
    base = table[(table.method == "base") & (table.split == "gender")].iloc[0]
    low = f"{base['RM score item ci low']:.3f}".replace("-", "−")
    assert f"| qwen3-0.6b | base | gender | −1.034 [{low}, " in text
    assert "n/a: n < 2" in text  # one seed: no test over seeds
    assert "bootstrap" in text.split("\n\n", 1)[0]  # the caption names the interval
    assert set(store["metric"]) == {"rm_score", "bias_type_score"}
    assert store.loc[(store.method == "dpo") & (store.split == "racial"), "n"].tolist() == [3, 3]


def test_import_reads_one_element_lists_and_rejects_bad_records(tmp_path):
    (tmp_path / "sft_model_gender_responses_scores.json").write_text(
        '[{"prompt": "p", "response": "r", "deberta-rm-score": [-2.5], "bias-type-score": 0.25}]'
    )
    records = read_published(tmp_path)
    assert records[[safety_scoring.RM_KEY, safety_scoring.BIAS_KEY]].values.tolist() == [[-2.5, 0.25]]
    (tmp_path / "dpo_model_gender_responses_scores.json").write_text(
        '[{"prompt": "p", "response": "r", "deberta-rm-score": "high", "bias-type-score": 0.25}]'
    )
    with pytest.raises(DataError, match=r"dpo_model_gender_responses_scores.json: record 0 deberta-rm-score"):
        read_published(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files named"):
        read_published(tmp_path / "empty")
