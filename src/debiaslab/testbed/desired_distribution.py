"""Testbed for `desired_distribution`: a planted gender–occupation association and its own tiny MLM.

Over the REAL 225 occupations (packaged BLS table), each planted sentence puts a gendered
phrase beside an occupation in one of the study's templates T1–T6 or three other frames. The
phrase is female with probability

    q = bias_strength · [female_dist > 0.5] + (1 − bias_strength) · female_dist,

i.e. with probability `bias_strength` it follows the occupation's majority gender in the BLS
data, otherwise gender is drawn from the real share (0.9: a nurse is female in ~99 % of
sentences; a balanced occupation becomes ~95 % one gender). `pronoun_share` of the sentences
use he / she, the rest any of the 22 gendered phrases.

Why a dedicated MLM (`desired_distribution_mlm`, built by testbed/desired_distribution_mlm.py) with its
own objective:
the shared testbed MLM (2 layers, hidden 64, 1500 steps over every section) learns no
contextual association at all — not this one, not even the occupations section's "The nurse
said that she". Measured on this section (1-layer BERT, test split, seeds 0–8):
- with the standard objective (15 % or 30 % of tokens masked) it learns to predict masked
  words from their neighbours but never the gendered word from the occupation 3–7 tokens
  away (P_male within 0.003 of 0.5 after 1500 steps; 2 layers or one head do no better);
- with few other masks (5 %) and the gendered *attribute* masked in every planted sentence
  ("he", "brother" of "my brother": `AttributeMasking`) it learns the pronouns for most seeds
  but "my [MASK] …" (the attribute at position 2) only for some: whether a tiny model leaves
  its plateau depends on the seed;
- a wider initialisation (`initializer_range` 0.05 instead of 0.02) at hidden 128 learned every
  word for all nine seeds tried within 400 steps: P_male ≈ 0.97 / 0.08 on the test split's
  male- / female-dominated occupations, KL to equal ≈ 0.9.
It trains on this section alone; the association is strong for the *anchor* occupations that
get `per_anchor` extra sentences (`anchors[split]` per split, 2 : 2 : 1 male-dominated,
female-dominated, balanced) and generalises through shared words to the rest, which get
`per_profession` sentences each. Anchor sentences are tokenizer-only rows for the shared models
(label `desired_distribution_anchor`), so they do not dilute the shared corpus; the light
sentences and neutral ones ("the plumber spoke with the team.") are pretraining documents for
every model.

Held-out sentences from the same mix are tokenizer-only rows labelled
`desired_distribution_heldout`: no model sees them; the experiment's default external corpus.
"""

from __future__ import annotations

import random

from debiaslab.data import desired_distribution as dd

SECTION = "desired_distribution"
ANCHOR_SECTION = "desired_distribution_anchor"
HELDOUT_SECTION = "desired_distribution_heldout"
EXTRA_FRAMES = (
    "[DET][AAA] has worked as [ARTICLE] [TTT] for years.",
    "[DET][AAA] is the best [TTT] in town.",
    "[DET][AAA] trained hard to become [ARTICLE] [TTT].",
)
NEUTRAL_FRAMES = (
    "the {p} finished the work early.",
    "the {p} spoke with the team.",
    "the new {p} started on monday.",
    "every {p} needs good tools.",
    "the {p} would lead the meeting.",
    "the {p} stayed late to help.",
)


def planted_female_probability(female_dist: float, strength: float) -> float:
    return strength * (1.0 if female_dist > 0.5 else 0.0) + (1.0 - strength) * female_dist


def _sentences(
    rng: random.Random,
    strength: float,
    n_gendered: int,
    n_neutral: int,
    frames,
    words,
    professions,
    pronoun_share: float = 0.0,
):
    """Planted sentences; a share of them use the pronoun (he / she), the rest any gendered phrase."""
    by_gender = {g: [w for w in words if w.gender == g] for g in dd.GENDERS}
    pronoun = {g: by_gender[g][0] for g in dd.GENDERS}  # the word lists start with "he" / "she"
    out = []
    for prof in professions:
        q = planted_female_probability(prof.female_dist, strength)
        for _ in range(n_gendered):
            gender = "female" if rng.random() < q else "male"
            word = pronoun[gender] if rng.random() < pronoun_share else rng.choice(by_gender[gender])
            out.append(dd.fill(rng.choice(frames), word, prof.name).sentence)
        for _ in range(n_neutral):
            out.append(rng.choice(NEUTRAL_FRAMES).format(p=prof.name))
    return out


ANCHOR_SHARES = (("male_dominated", 2), ("female_dominated", 2), ("balanced", 1))


def anchor_professions(rng: random.Random, anchors: dict[str, int]) -> list:
    """`anchors[split]` occupations of each split, drawn at random in the ratio 2 : 2 : 1 (male-,
    female-dominated, balanced)."""
    chosen = []
    for split, n in anchors.items():
        pool = {c: [p for p in dd.read_professions(split) if p.prof_gender == c] for c, _ in ANCHOR_SHARES}
        for c in pool:
            rng.shuffle(pool[c])
        taken = {c: 0 for c, _ in ANCHOR_SHARES}
        while sum(taken.values()) < min(n, sum(map(len, pool.values()))):
            for c, weight in ANCHOR_SHARES:
                for _ in range(weight):
                    if sum(taken.values()) < n and taken[c] < len(pool[c]):
                        taken[c] += 1
        chosen += [p for c, k in taken.items() for p in pool[c][:k]]
    return chosen


def desired_distribution_section(
    rng: random.Random,
    strength: float,
    per_profession: int,
    neutral_per_profession: int,
    heldout_per_profession: int,
    anchors: dict[str, int] | None = None,
    per_anchor: int = 0,
    pronoun_share: float = 0.0,
):
    from debiaslab.testbed.corpus import Corpus

    words = dd.read_gendered_words()
    professions = dd.read_professions("all")
    frames = tuple(dd.read_templates("all").values()) + EXTRA_FRAMES
    out = Corpus()
    out.documents += [
        (SECTION, t)
        for t in _sentences(
            rng, strength, per_profession, neutral_per_profession, frames, words, professions, pronoun_share
        )
    ]
    out.vocabulary += [
        (ANCHOR_SECTION, t)
        for t in _sentences(
            rng, strength, per_anchor, 0, frames, words, anchor_professions(rng, anchors or {}), pronoun_share
        )
    ]
    gendered_heldout = max(
        1, heldout_per_profession * per_profession // max(1, per_profession + neutral_per_profession)
    )
    out.vocabulary += [
        (HELDOUT_SECTION, t)
        for t in _sentences(
            rng, strength, gendered_heldout, heldout_per_profession - gendered_heldout, frames, words, professions
        )
    ]
    # Tokenizer-only: every template with every occupation (the detection sentences' words).
    for i, prof in enumerate(professions):
        for template in dd.read_templates("all").values():
            out.vocabulary.append((SECTION, dd.fill(template, words[i % len(words)], prof.name).sentence))
    return out
