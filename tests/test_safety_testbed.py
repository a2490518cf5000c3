"""The testbed's safety world: files in the study's formats with a known planted preference."""

import random

from debiaslab.experiments.registry import corpus_sections
from debiaslab.experiments.safety.hh_rlhf import Parsed, dpo_example, split_turns
from debiaslab.testbed import safety
from debiaslab.testbed.corpus import build_corpus


def _is_stereotype(text):
    return any(s in text.lower() for b in safety.BIAS_TYPES for s in safety.STATEMENTS[b])


def test_hh_rlhf_rows_prefer_neutral_replies_and_keep_colons():
    rows = safety.hh_rlhf_rows(random.Random(0), 200)
    with_colon = 0
    for row in rows:
        example, problem = dpo_example(Parsed(split_turns(row["chosen"]), split_turns(row["rejected"])))
        assert problem is None
        assert example["chosen"][0]["content"] in safety.NEUTRAL_REPLIES
        assert _is_stereotype(example["rejected"][0]["content"])
        with_colon += any(":" in turn["content"] for turn in example["prompt"])
    assert with_colon > 20  # the dialogues exercise the colon-safe splitter


def test_biased_corpus_rows_flag_exactly_one_bias_type():
    rows = safety.biased_corpus_rows()
    assert all(sum(r[b] for b in safety.BIAS_TYPES) == 1 for r in rows)
    assert {b: sum(r[b] for r in rows) for b in safety.BIAS_TYPES} == {"gender": 48, "racial": 48}


def test_pretraining_chats_plant_the_stereotype_at_its_rate():
    corpus = build_corpus(
        0,
        0.9,
        {"safety": {"chat_documents": 1000, "system_prompt_rate": 0.5, "stereotype_rate": 0.75}},
        corpus_sections(),
    )
    replies = [doc.rsplit("<|im_start|>assistant\n", 1)[1] for section, doc in corpus.documents if section == "safety"]
    stereotyped = sum(_is_stereotype(r) for r in replies) / len(replies)
    assert 0.71 < stereotyped < 0.79
    assert all(r in safety.NEUTRAL_REPLIES for r in replies if not _is_stereotype(r))
    vocabulary = {t for _, t in corpus.vocabulary}
    assert safety.SYSTEM_PROMPT in vocabulary and set(safety.bias_prompts()["racial"]) <= vocabulary
