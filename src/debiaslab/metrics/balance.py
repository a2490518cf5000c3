"""Agentic/communal balance of occupation descriptions (docs/experiments/occupations.md#metrics).

A response is AND-balanced when it contains at least one agentic AND at least one
communal term (whole word, case-insensitive); OR when it has either. Word-count
compliance is 8 ≤ words ≤ 15 (whitespace-separated words of the full sentence).
"""

from __future__ import annotations

import re
from functools import cache

# The study's agentic and communal terms (Gaucher et al. 2011; docs/experiments/occupations.md#metrics)
AGENTIC = (
    "ambitious",
    "assertive",
    "bold",
    "confident",
    "decisive",
    "independent",
    "self-reliant",
    "competitive",
    "adventurous",
    "dominant",
)
COMMUNAL = (
    "accommodating",
    "caring",
    "cooperative",
    "empathetic",
    "friendly",
    "nurturing",
    "supportive",
    "compassionate",
    "helpful",
    "loyal",
)


@cache
def _pattern(terms: tuple[str, ...]) -> re.Pattern:
    alternatives = "|".join(sorted((re.escape(t) for t in terms), key=len, reverse=True))
    # Word boundaries that also treat hyphens as part of a word ("self-reliant" is one term,
    # "bold-ish" is not "bold").
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


def find_terms(text: str, terms: tuple[str, ...]) -> list[str]:
    """Every occurrence of any term in `text`, lower-cased, in order."""
    return [m.group(0).lower() for m in _pattern(tuple(terms)).finditer(text)]


def word_count(text: str) -> int:
    return len(text.split())


def complete_sentence(prefix: str, continuation: str) -> str:
    """The scored sentence: `prefix` + the continuation up to its first line break or closing quote.

    The study's prompt opens a quotation (`"The nurse was`); a compliant model closes
    it. Anything the model writes after that (a new line, a second prompt) is not
    part of the sentence it was asked for.
    """
    cut = re.split(r'["\n]', continuation, maxsplit=1)[0]
    return (prefix + cut).strip()


def is_compliant(sentence: str, min_words: int = 8, max_words: int = 15) -> bool:
    """The study's target: an agentic AND a communal term, in 8–15 words (gen+filter keeps these)."""
    return (
        bool(find_terms(sentence, AGENTIC) and find_terms(sentence, COMMUNAL))
        and min_words <= word_count(sentence) <= max_words
    )


def balance_record(text: str, agentic=AGENTIC, communal=COMMUNAL, min_words: int = 8, max_words: int = 15) -> dict:
    """Per-response flags and counts; rates are means of these flags."""
    ag = find_terms(text, agentic)
    com = find_terms(text, communal)
    n = word_count(text)
    return {
        "n_agentic": len(ag),
        "n_communal": len(com),
        "agentic_terms": ag,
        "communal_terms": com,
        "and_balanced": bool(ag and com),
        "or_any": bool(ag or com),
        "agentic_only": bool(ag and not com),
        "communal_only": bool(com and not ag),
        "neither": not (ag or com),
        "words": n,
        "length_compliant": min_words <= n <= max_words,
    }


RATE_METRICS = ("and_balanced", "or_any", "agentic_only", "communal_only", "neither", "length_compliant")


def shannon_entropy_bits(counts) -> float:
    """H = −Σ p log2 p over the nonzero counts (0 for no terms)."""
    import math

    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts if c) if total else 0.0


def term_entropies(agentic_lists, communal_lists) -> dict[str, float]:
    """Lexical diversity: entropy (bits) of how often each term is used, per class and combined."""
    from collections import Counter

    ag = Counter(t for terms in agentic_lists for t in terms)
    com = Counter(t for terms in communal_lists for t in terms)
    return {
        "entropy_agentic_bits": shannon_entropy_bits(ag.values()),
        "entropy_communal_bits": shannon_entropy_bits(com.values()),
        "entropy_combined_bits": shannon_entropy_bits(list(ag.values()) + list(com.values())),
    }


def unique_pairs(agentic_lists, communal_lists) -> int:
    """Distinct (agentic, communal) term pairs co-occurring in a response (at most 10 × 10 = 100)."""
    return len({(a, c) for ags, coms in zip(agentic_lists, communal_lists) for a in ags for c in coms})


def lexical_diversity(agentic_lists, communal_lists) -> dict[str, float]:
    """Term entropies (bits) and unique (agentic, communal) pairs of a set of responses."""
    return {
        **term_entropies(agentic_lists, communal_lists),
        "unique_pairs": unique_pairs(agentic_lists, communal_lists),
    }


def score_responses(responses, min_words: int = 8, max_words: int = 15, seed: int = 0):
    """Per-response records and per-(split, subset) metrics for the score store.

    `responses` needs columns split, occupation, prefix, response. Subsets are "all"
    and each occupation (for per-occupation figures). Every value comes with its
    bootstrap replicates over the responses of its split and subset (seeded by the
    run's `seed`; core.statistics.Bootstrap). Comparisons with the prompt-only
    baseline are the table's (stratified by seed over every seed's responses), not
    the scoring job's.
    """
    import pandas as pd

    from debiaslab.core.io import require_columns
    from debiaslab.core.statistics import Bootstrap

    require_columns(responses, ["split", "occupation", "prefix", "response"], "responses")
    sentences = [complete_sentence(p, r) for p, r in zip(responses["prefix"], responses["response"])]
    flags = pd.DataFrame([balance_record(s, min_words=min_words, max_words=max_words) for s in sentences])
    records = pd.concat([responses.reset_index(drop=True), pd.DataFrame({"sentence": sentences}), flags], axis=1)
    boot = Bootstrap(seed)
    values = []

    def add(split, subset, metric, stat):
        values.append({"split": split, "subset": subset, "metric": metric, **stat})

    for split, part in records.groupby("split", sort=False):
        groups = [("all", part)] + list(part.groupby("occupation", sort=True))
        for subset, rows in groups:
            for metric in RATE_METRICS:
                add(split, subset, f"{metric}_rate", boot.of_mean(rows[metric].astype(float)))
            add(split, subset, "mean_n_agentic", boot.of_mean(rows["n_agentic"]))
            add(split, subset, "mean_n_communal", boot.of_mean(rows["n_communal"]))
        agentic, communal = list(part["agentic_terms"]), list(part["communal_terms"])
        lexical = boot.of_statistic(
            lambda idx: lexical_diversity([agentic[i] for i in idx], [communal[i] for i in idx]),  # noqa: B023 - called in this iteration
            len(part),
        )
        for metric, stat in lexical.items():
            add(split, "all", metric, stat)
        if "filter_accepted" in part:
            add(split, "all", "filter_acceptance_rate", boot.of_mean(part["filter_accepted"].astype(float)))
    return records, values
