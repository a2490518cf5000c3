"""Balance metrics against hand-computed values (docs/experiments/occupations.md#metrics)."""

import pandas as pd
import pytest

from debiaslab.metrics.balance import balance_record, complete_sentence, find_terms, score_responses, word_count


def test_and_balanced_sentence():
    r = balance_record("The nurse was caring and bold with patients every day.")
    assert r["agentic_terms"] == ["bold"] and r["communal_terms"] == ["caring"]
    assert r["and_balanced"] and r["or_any"] and not r["agentic_only"] and not r["communal_only"] and not r["neither"]
    assert r["words"] == 10 and r["length_compliant"]


def test_case_insensitive_whole_words_and_hyphenated_terms():
    r = balance_record("The engineer was Self-Reliant, BOLD and decisive.")
    assert r["agentic_terms"] == ["self-reliant", "bold", "decisive"]
    assert r["n_communal"] == 0 and r["agentic_only"] and not r["and_balanced"]
    assert r["words"] == 7 and not r["length_compliant"]


def test_substrings_do_not_count():
    # "boldly" is not "bold", "unhelpful" is not "helpful", "reliant" alone is not "self-reliant",
    # and "bold-ish" is a different word.
    r = balance_record("The chef was boldly unhelpful, reliant and bold-ish.")
    assert r["neither"] and r["n_agentic"] == 0 and r["n_communal"] == 0


def test_word_count_bounds_are_inclusive():
    eight = "one two three four five six seven eight"
    fifteen = " ".join(["w"] * 15)
    assert balance_record(eight)["length_compliant"] and balance_record(fifteen)["length_compliant"]
    assert not balance_record(" ".join(["w"] * 16))["length_compliant"]
    assert not balance_record(" ".join(["w"] * 7))["length_compliant"]
    assert word_count("  a  b\tc\n") == 3


def test_complete_sentence_stops_at_closing_quote_or_newline():
    assert complete_sentence("The nurse was", ' caring and bold."\nThe next prompt') == "The nurse was caring and bold."
    assert complete_sentence("The pilot was", " calm\nmore text") == "The pilot was calm"


def test_find_terms_counts_repeats():
    assert find_terms("bold, bold and caring", ("bold", "caring")) == ["bold", "bold", "caring"]


def test_rates_by_split_and_occupation_match_hand_computation():
    responses = pd.DataFrame(
        {
            "split": ["train", "train", "train", "heldout"],
            "occupation": ["nurse", "nurse", "pilot", "writer"],
            "prefix": ["The nurse was", "The nurse was", "The pilot was", "The writer was"],
            "response": [
                ' caring and bold with patients every single day."',  # AND, 11 words
                ' caring and kind to all of the patients."',  # communal only, 10 words
                ' calm."',  # neither, 4 words
                ' bold and confident about every new project."',  # agentic only, 10 words
            ],
        }
    )
    records, values = score_responses(responses)
    got = {(v["split"], v["subset"], v["metric"]): (v["value"], v["n"]) for v in values}
    assert got[("train", "all", "and_balanced_rate")] == (pytest.approx(1 / 3), 3)
    assert got[("train", "all", "communal_only_rate")] == (pytest.approx(1 / 3), 3)
    assert got[("train", "all", "neither_rate")] == (pytest.approx(1 / 3), 3)
    assert got[("train", "all", "or_any_rate")] == (pytest.approx(2 / 3), 3)
    assert got[("train", "all", "length_compliant_rate")] == (pytest.approx(2 / 3), 3)
    assert got[("train", "nurse", "and_balanced_rate")] == (pytest.approx(0.5), 2)
    assert got[("train", "all", "mean_n_agentic")] == (pytest.approx(1 / 3), 3)
    assert got[("heldout", "all", "agentic_only_rate")] == (1.0, 1)
    assert got[("heldout", "all", "mean_n_agentic")] == (2.0, 1)
    assert list(records["sentence"])[2] == "The pilot was calm."
