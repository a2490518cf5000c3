"""The balanced-example generator follows the source's rules (docs/experiments/occupations.md#data), fixed
where it erred."""

import random

import pytest

from debiaslab.data.occupations import OCCUPATIONS
from debiaslab.experiments.occupations import data as occ
from debiaslab.metrics.balance import AGENTIC, COMMUNAL, balance_record, find_terms


def test_heldout_occupations_never_appear_in_training_data(tmp_path):
    import pandas as pd

    settings = {
        "train_occupations": [o for o in OCCUPATIONS if o not in occ.HELDOUT],
        "heldout_occupations": list(occ.HELDOUT),
        "prompt": occ.PROMPT,
        "n_per_occupation": 30,
    }
    occ.write_sft_data(settings, seed=42, out=tmp_path / "sft.parquet")
    frame = pd.read_parquet(tmp_path / "sft.parquet")
    assert len(frame) == 15 * 30
    text = " ".join(frame["prompt"] + frame["completion"] + frame["text"]).lower()
    for held in occ.HELDOUT:
        assert held not in text, held


def test_two_slots_of_one_class_never_repeat_a_word():
    rng = random.Random(0)
    double = [
        t for t in occ.TEMPLATES if {"ag", "ag2"} <= occ.template_slots(t) or {"com", "com2"} <= occ.template_slots(t)
    ]
    assert double, "the source's templates include ones with two terms of one class"
    for _ in range(500):
        template = rng.choice(double)
        text = occ.fill_template(template, "pilot", AGENTIC, COMMUNAL, rng)
        for words in (AGENTIC, COMMUNAL):
            found = find_terms(text, words)
            assert len(found) == len(set(found)), text


def test_single_class_fill_keeps_words_distinct():
    # The testbed fills every slot from one class; four slots must still get four different words.
    rng = random.Random(1)
    for template in occ.TEMPLATES:
        text = occ.fill_template(template, "nurse", COMMUNAL, COMMUNAL, rng)
        found = find_terms(text, COMMUNAL)
        assert len(found) == len(set(found)) and not find_terms(text, AGENTIC)


def test_every_example_is_balanced_and_eight_to_fifteen_words():
    for example in occ.balanced_examples(OCCUPATIONS, 20, seed=3):
        record = balance_record(example.text)
        assert record["and_balanced"], example.text
        assert record["length_compliant"], (record["words"], example.text)
        assert example.prompt.endswith(f'"The {example.occupation} was')
        assert (example.prompt + example.completion).endswith(example.text + '"')


def test_people_contexts_follow_the_occupation():
    rng = random.Random(2)
    for _ in range(50):
        text = occ.fill_template(
            "The {occ} was {ag} and {com} with {people} every day.", "teacher", AGENTIC, COMMUNAL, rng
        )
        assert text.split(" with ")[1].split(" every")[0] in ("students", "learners")


def test_same_seed_same_examples_and_different_seed_differs():
    a = occ.balanced_examples(["nurse"], 10, seed=42)
    assert a == occ.balanced_examples(["nurse"], 10, seed=42)
    assert a != occ.balanced_examples(["nurse"], 10, seed=43)


def test_overlapping_split_is_rejected():
    with pytest.raises(ValueError, match="overlap"):
        occ.prompt_rows(["nurse", "pilot"], ["pilot"], 1)


def test_prompt_rows_cover_both_splits():
    rows = occ.prompt_rows(["nurse"], ["writer"], 3)
    assert [(r["split"], r["occupation"]) for r in rows] == [("train", "nurse")] * 3 + [("heldout", "writer")] * 3
    assert rows[0]["prompt"] == occ.PROMPT.format(occupation="nurse")
