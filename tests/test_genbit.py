"""The offline GenBit wrapper against values computed by hand from GenBit's published definitions.

GenBit (Sengupta et al. 2021; the `genbit` package): stopwords are dropped (gendered words kept);
each gendered word adds distance_weight**d to the male/female/non-binary co-occurrence of every word
within context_window tokens; every word's counts are add-one smoothed; words whose total count
(female + male + non-binary) reaches the percentile_cutoff-th percentile of the counts above 2 are
scored: bias_ratio(w) = ln(c(w,male) / c(w,female)), bias_conditional(w) = ln(P(w|male) / P(w|female))
with P(w|g) = c(w,g) / (N_g + |V|) (N_g: occurrences of g's gendered words, |V|: distinct words).
avg_bias_ratio is the mean bias_ratio; genbit_score the mean |bias_conditional|.
"""

import math
import sys

import pytest

from debiaslab.metrics.genbit import GenBit, GenBitSettings, ensure_pkg_resources, make_lemmatizer


@pytest.fixture(scope="module")
def genbit():
    return GenBit(GenBitSettings(context_window=5, distance_weight=0.95, percentile_cutoff=80, lemmatizer="identity"))


def test_one_gendered_word_by_hand(genbit):
    # "He planned the budget." → [he, planned, budget] ("the" is a stopword); "he" is male.
    m_planned, f_planned = 1 + 0.95, 1  # distance 1 from "he", plus add-one smoothing
    m_budget, f_budget = 1 + 0.95**2, 1  # distance 2
    counts = sorted([m_planned + f_planned + 1, m_budget + f_budget + 1, 1 + 1 + 1])  # + non-binary 1; "he": 3
    assert counts == pytest.approx([3, 3.9025, 3.95])
    cutoff = counts[1] + 0.6 * (counts[2] - counts[1])  # 80th percentile, linear: position 0.8 · 2 = 1.6
    assert cutoff == pytest.approx(3.931)
    # only "planned" (3.95) reaches the cutoff
    ratio = math.log(m_planned / f_planned)
    n_male, n_female, vocabulary = 1, 0, 3
    conditional = math.log((m_planned / (n_male + vocabulary)) / (f_planned / (n_female + vocabulary)))
    out = genbit.score("He planned the budget.")
    assert out["frequency_cutoff"] == pytest.approx(cutoff)
    assert out["num_words_considered"] == 1
    assert out["avg_bias_ratio"] == pytest.approx(ratio) == pytest.approx(0.667829, abs=1e-6)
    assert out["genbit_score"] == pytest.approx(abs(conditional)) == pytest.approx(0.380147, abs=1e-6)
    assert out["percentage_of_male_gender_definition_words"] == 1.0
    assert out["lemmatizer"] == "identity"


def test_both_genders_by_hand(genbit):
    # "He planned the budget and she fixed the machine." → [he, planned, budget, she, fixed, machine]
    w = 0.95
    m = {"planned": 1 + w, "budget": 1 + w**2, "fixed": 1 + w**4, "machine": 1 + w**5, "she": 1 + w**3, "he": 1}
    f = {"planned": 1 + w**2, "budget": 1 + w, "fixed": 1 + w, "machine": 1 + w**2, "she": 1, "he": 1 + w**3}
    counts = sorted(m[k] + f[k] + 1 for k in m)
    cutoff = counts[4]  # position 0.8 · (6 - 1) = 4 exactly
    scored = [k for k in ("planned", "budget", "fixed", "machine") if m[k] + f[k] + 1 >= cutoff]
    assert scored == ["planned", "budget"]
    ratios = [math.log(m[k] / f[k]) for k in scored]
    n_male = n_female = 1
    vocabulary = 6
    conditionals = [math.log((m[k] / (n_male + vocabulary)) / (f[k] / (n_female + vocabulary))) for k in scored]
    out = genbit.score("He planned the budget and she fixed the machine.")
    assert out["num_words_considered"] == 2
    assert out["avg_bias_ratio"] == pytest.approx(sum(ratios) / 2, abs=1e-12)  # the two cancel: 0
    assert out["genbit_score"] == pytest.approx(sum(map(abs, conditionals)) / 2)
    assert out["avg_bias_ratio_absolute"] == pytest.approx(math.log(1.95 / 1.9025))


def test_neutral_pronoun_and_empty_text_have_no_bias(genbit):
    # "they" is a non-binary word: planned gets male = female = 1 (smoothing only) → ln(1/1) = 0
    out = genbit.score("They planned the budget.")
    assert out["avg_bias_ratio"] == 0.0 and out["percentage_of_non_binary_gender_definition_words"] == 1.0
    assert genbit.score("")["avg_bias_ratio"] == 0.0
    # degenerate per-sample case (documented in methods.reward): no non-stopword left to score
    assert genbit.score("He.")["num_words_considered"] == 0


def test_context_window_limits_cooccurrence():
    # "he planned budget fixed machine lead meeting": word k (k = 1..6) is k tokens from "he". With
    # percentile_cutoff 0 every word is scored; "meeting" (distance 6) co-occurs only inside a window of 6.
    text = "he planned budget fixed machine lead meeting"
    for window, expected in (
        (5, sum(math.log(1 + 0.95**d) for d in range(1, 6)) / 6),
        (6, sum(math.log(1 + 0.95**d) for d in range(1, 7)) / 6),
    ):
        out = GenBit(GenBitSettings(context_window=window, percentile_cutoff=0, lemmatizer="identity")).score(text)
        assert out["num_words_considered"] == 6
        assert out["avg_bias_ratio"] == pytest.approx(expected)


def test_per_text_scores_equal_fresh_instances(genbit):
    texts = [" she stayed late to finish.", " they fixed the broken machine.", " he wrote the weekly summary."]
    reused = genbit.score_each(texts)
    fresh = [GenBit(GenBitSettings(lemmatizer="identity")).score(t) for t in texts]
    for a, b in zip(reused, fresh):
        assert a["avg_bias_ratio"] == b["avg_bias_ratio"] and a["genbit_score"] == b["genbit_score"]
    assert genbit.bias(texts) == [abs(r["avg_bias_ratio"]) for r in reused]
    assert genbit.bias(texts)[0] > 0 and genbit.bias(texts)[1] == 0


def test_offline_pieces(tmp_path):
    ensure_pkg_resources()
    import pkg_resources

    assert hasattr(pkg_resources, "resource_filename")
    assert "stopwordsiso" in sys.modules or __import__("stopwordsiso")
    # no local stanza model: auto falls back to the identity lemmatizer; stanza explicitly is an error
    assert make_lemmatizer(GenBitSettings(lemmatizer="auto", stanza_dir=str(tmp_path))).name == "identity"
    with pytest.raises(FileNotFoundError, match="no stanza 'en' lemmatizer"):
        make_lemmatizer(GenBitSettings(lemmatizer="stanza", stanza_dir=str(tmp_path)))
