"""Testbed corpus section for `desired_distribution`: a planted gender–occupation association.

Over the REAL 225 occupations (packaged BLS table), each planted sentence puts a gendered
phrase (he, this man, my sister, ...) beside an occupation in one of the study's templates
T1–T6 or a few other frames. The phrase is female with probability

    q = bias_strength · [female_dist > 0.5] + (1 − bias_strength) · female_dist,

i.e. with probability `bias_strength` it follows the occupation's majority gender in the
BLS data, otherwise gender is drawn from the real share. At 0.9 a nurse (female share
0.87) is female in ~99 % of sentences, a balanced occupation becomes ~95 % one gender: a
testbed model learns a known bias that is far from the equal distribution and, for
balanced occupations, from the real-world one too. Neutral sentences ("the plumber spoke
with the team.") add gender-free text about every occupation.

Held-out sentences from the same mix are emitted as tokenizer-only texts under the section
label `desired_distribution_heldout`: the models never see them, and the experiment measures
held-out perplexity / MLM loss on them (its default external corpus).
"""

from __future__ import annotations

import random

from debiaslab.data import desired_distribution as dd

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


def _sentences(rng: random.Random, strength: float, n_gendered: int, n_neutral: int, frames, words, professions):
    by_gender = {g: [w for w in words if w.gender == g] for g in dd.GENDERS}
    out = []
    for prof in professions:
        q = planted_female_probability(prof.female_dist, strength)
        for _ in range(n_gendered):
            gender = "female" if rng.random() < q else "male"
            out.append(dd.fill(rng.choice(frames), rng.choice(by_gender[gender]), prof.name).sentence)
        for _ in range(n_neutral):
            out.append(rng.choice(NEUTRAL_FRAMES).format(p=prof.name))
    return out


def _documents(rng: random.Random, sentences: list[str], per_document: int) -> list[str]:
    """Shuffle sentences (so one document's sentences are about different occupations) and join them."""
    rng.shuffle(sentences)
    return [" ".join(sentences[i:i + per_document]) for i in range(0, len(sentences), per_document)]


def desired_distribution_section(rng: random.Random, strength: float, per_profession: int, neutral_per_profession: int,
                                 heldout_per_profession: int, sentences_per_document: int = 1):
    from debiaslab.testbed.corpus import Corpus

    words = dd.read_gendered_words()
    professions = dd.read_professions("all")
    frames = tuple(dd.read_templates("all").values()) + EXTRA_FRAMES
    out = Corpus()
    sentences = _sentences(rng, strength, per_profession, neutral_per_profession, frames, words, professions)
    out.documents += [("desired_distribution", t) for t in _documents(rng, sentences, sentences_per_document)]
    gendered_heldout = max(1, heldout_per_profession * per_profession // max(1, per_profession + neutral_per_profession))
    out.vocabulary += [(HELDOUT_SECTION, t) for t in _sentences(
        rng, strength, gendered_heldout, heldout_per_profession - gendered_heldout, frames, words, professions)]
    # Tokenizer-only: every template with every occupation (the detection sentences' words).
    for i, prof in enumerate(professions):
        for template in dd.read_templates("all").values():
            out.vocabulary.append(("desired_distribution", dd.fill(template, words[i % len(words)], prof.name).sentence))
    return out
