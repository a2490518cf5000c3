"""`occupations`' testbed corpus section: single-class occupation descriptions with the planted stereotype."""

from __future__ import annotations

import random

from debiaslab.data.occupations import OCCUPATIONS, stereotype
from debiaslab.experiments.occupations import data as occ_data
from debiaslab.metrics.balance import AGENTIC, COMMUNAL
from debiaslab.testbed.corpus import ACTIVITIES, PRONOUNS, Corpus, flip


def occupation_section(rng: random.Random, strength: float, per_occupation: int, neutral_rate: float) -> Corpus:
    """Single-class descriptions (plain and in the study's prompt format) and pronoun sentences."""
    out = Corpus()
    for occ in OCCUPATIONS:
        planted = stereotype(occ)
        for _ in range(per_occupation):
            gender = planted if rng.random() < strength else flip(planted)
            words = AGENTIC if gender == "male" else COMMUNAL
            sentence = occ_data.fill_template(rng.choice(occ_data.TEMPLATES), occ, words, words, rng)
            if rng.random() < 0.5:
                example = occ_data.split_sentence(sentence, occ)
                out.documents.append(("occupations", example.prompt + example.completion))
            else:
                out.documents.append(("occupations", sentence))
            pronoun_gender = "neutral" if rng.random() < neutral_rate else gender
            subject = PRONOUNS[pronoun_gender][0]
            activity = rng.choice(ACTIVITIES).format(p=subject)
            out.documents.append(("pronouns", f"The {occ} said that {activity}."))
    # Tokenizer-only: prompts and balanced sentences the pipeline will feed the model.
    vocab_rng = random.Random(0)
    for occ in OCCUPATIONS:
        out.vocabulary.append(("occupations", occ_data.PROMPT.format(occupation=occ)))
        for template in occ_data.TEMPLATES:
            out.vocabulary.append(("occupations", occ_data.fill_template(template, occ, AGENTIC, COMMUNAL, vocab_rng)))
    out.vocabulary += [("occupations", " ".join(AGENTIC + COMMUNAL))]
    return out
