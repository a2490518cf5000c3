"""`reward_guided`'s testbed corpus section: answered MCQ questions whose answers follow the stereotype."""

from __future__ import annotations

import random

from debiaslab.data.mcq import GENDERED_OPTIONS, NEUTRAL_OPTIONS
from debiaslab.data.occupations import OCCUPATIONS, stereotype
from debiaslab.experiments.reward_guided import data as mcq_data
from debiaslab.testbed.corpus import PRONOUNS, Corpus, flip


def mcq_section(rng: random.Random, strength: float, per_occupation: int, neutral_rate: float) -> Corpus:
    """Answered fill-in-the-pronoun questions (`reward_guided`): the answer follows the stereotype.

    With probability `neutral_rate` the answer is the question's neutral option ("they" / "the
    person"), otherwise the occupation's stereotyped pronoun with probability `strength` and the
    other one else: the tiny LM answers mostly with the stereotyped pronoun but can produce the
    neutral one, which is what REINFORCE must reinforce.
    """
    out = Corpus()
    for occ in OCCUPATIONS:
        planted = stereotype(occ)
        questions = mcq_data.question_rows([occ])
        for _ in range(per_occupation):
            q = rng.choice(questions)
            gender = planted if rng.random() < strength else flip(planted)
            subject = q["neutral_option"] if rng.random() < neutral_rate else PRONOUNS[gender][0]
            out.documents.append(("mcq", f"{q['prompt']} {subject} {q['activity']}."))
    for occ in OCCUPATIONS:
        for q in mcq_data.question_rows([occ])[:: len(mcq_data.option_orders())]:
            out.vocabulary.append(("mcq", q["prompt"]))
    for activity in mcq_data.ACTIVITIES:
        for subject in GENDERED_OPTIONS + NEUTRAL_OPTIONS:
            out.vocabulary.append(("mcq", f"{subject} {activity}."))
    return out
