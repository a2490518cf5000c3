"""The reward_guided MCQ generator and its testbed corpus section."""

import pandas as pd
import pytest

from debiaslab.core.io import DataError
from debiaslab.data.mcq import NEUTRAL_OPTIONS, chosen_option, eval_prompts, has_gendered_pronoun, train_subset
from debiaslab.data.occupations import MALE_STEREOTYPED
from debiaslab.experiments.registry import corpus_sections
from debiaslab.experiments.reward_guided.data import ACTIVITIES, make_pool, question_rows
from debiaslab.metrics.genbit import ensure_pkg_resources
from debiaslab.testbed.corpus import build_corpus


@pytest.fixture(scope="module")
def pool():
    return pd.DataFrame(make_pool(seed=0, n_eval=50))


def test_every_question_is_distinct_and_offers_gendered_and_neutral_options():
    rows = question_rows()
    assert len({r["prompt"] for r in rows}) == len(rows) == 20 * 12 * 2 * 2 * 6
    for r in rows[:50]:
        options = r["options"].split(", ")
        assert sorted(options) == sorted(["he", "she", r["neutral_option"]])
        assert r["prompt"].endswith("\nAnswer: " + r["prefix"]) and r["prompt"].startswith(r["question"])


def test_pool_is_seeded_with_disjoint_eval_and_nested_train_subsets(pool):
    assert pool.equals(pd.DataFrame(make_pool(seed=0, n_eval=50)))
    assert not pool.equals(pd.DataFrame(make_pool(seed=1, n_eval=50)))
    ev = eval_prompts(pool)
    assert len(ev) == 50 and not set(ev["prompt"]) & set(pool[pool.split == "train"]["prompt"])
    small, large = train_subset(pool, 100), train_subset(pool, 300)
    assert small["prompt"].tolist() == large["prompt"].tolist()[:100]  # nested
    assert set(small["neutral_option"]) == set(NEUTRAL_OPTIONS)
    with pytest.raises(DataError, match="exceeds the training pool"):
        train_subset(pool, len(pool))


def test_option_and_pronoun_parsing():
    assert chosen_option(" they stayed late to finish.") == "they"
    assert chosen_option(" the person fixed the broken machine.") == "the person"
    assert chosen_option(" She planned the budget.") == "she"
    assert chosen_option(" therefore nothing") is None  # whole words only
    assert has_gendered_pronoun("the person said her report") and not has_gendered_pronoun("they, the person, there")


def test_every_activity_keeps_a_word_genbit_can_score():
    ensure_pkg_resources()
    import stopwordsiso

    stop = stopwordsiso.stopwords("en")
    for activity in ACTIVITIES:
        assert [w for w in activity.split() if w not in stop], activity


def test_corpus_plants_the_stereotyped_answer():
    corpus = build_corpus(0, 0.9, {"mcq": {"per_occupation": 200, "neutral_rate": 0.2}}, corpus_sections())
    docs = [t for s, t in corpus.documents if s == "mcq"]
    male = [d for d in docs if any(f"Answer: The {o} said that" in d for o in MALE_STEREOTYPED)]
    he = [d for d in male if d.split("Answer: ")[1].split(" said that ")[1].startswith("he ")]
    neutral = [d for d in docs if d.split("said that ")[-1].startswith(("they ", "the person "))]
    assert 0.66 < len(he) / len(male) < 0.78  # strength 0.9 × (1 − neutral 0.2) = 0.72
    assert 0.16 < len(neutral) / len(docs) < 0.24
