"""The testbed corpus's sections, by name (what `testbed.corpus` sections in the config name).

Each section is a function (rng, bias_strength, **its settings) -> Corpus. Later experiments add
sections; `debiaslab testbed corpus` passes SECTIONS to testbed.corpus.write_corpus.
"""

from __future__ import annotations

import random

from debiaslab.data import mcq as mcq_data
from debiaslab.data import occupations as occ_data
from debiaslab.data.occupations import stereotype
from debiaslab.testbed import safety as safety_world
from debiaslab.testbed.corpus import ACTIVITIES, PRONOUNS, Corpus


def _flip(gender: str) -> str:
    return "female" if gender == "male" else "male"


def occupation_section(rng: random.Random, strength: float, per_occupation: int, neutral_rate: float) -> Corpus:
    """Single-class descriptions (plain and in the study's prompt format) and pronoun sentences."""
    out = Corpus()
    for occ in occ_data.OCCUPATIONS:
        planted = stereotype(occ)
        for _ in range(per_occupation):
            gender = planted if rng.random() < strength else _flip(planted)
            words = occ_data.AGENTIC if gender == "male" else occ_data.COMMUNAL
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
    for occ in occ_data.OCCUPATIONS:
        out.vocabulary.append(("occupations", occ_data.PROMPT.format(occupation=occ)))
        for template in occ_data.TEMPLATES:
            out.vocabulary.append(
                ("occupations", occ_data.fill_template(template, occ, occ_data.AGENTIC, occ_data.COMMUNAL, vocab_rng))
            )
    out.vocabulary += [("occupations", " ".join(occ_data.AGENTIC + occ_data.COMMUNAL))]
    return out


def mcq_section(rng: random.Random, strength: float, per_occupation: int, neutral_rate: float) -> Corpus:
    """Answered fill-in-the-pronoun questions (`reward_guided`): the answer follows the stereotype.

    With probability `neutral_rate` the answer is the question's neutral option ("they" / "the
    person"), otherwise the occupation's stereotyped pronoun with probability `strength` and the
    other one else: the tiny LM answers mostly with the stereotyped pronoun but can produce the
    neutral one, which is what REINFORCE must reinforce.
    """
    out = Corpus()
    for occ in occ_data.OCCUPATIONS:
        planted = stereotype(occ)
        questions = mcq_data.question_rows([occ])
        for _ in range(per_occupation):
            q = rng.choice(questions)
            gender = planted if rng.random() < strength else _flip(planted)
            subject = q["neutral_option"] if rng.random() < neutral_rate else PRONOUNS[gender][0]
            out.documents.append(("mcq", f"{q['prompt']} {subject} {q['activity']}."))
    for occ in occ_data.OCCUPATIONS:
        for q in mcq_data.question_rows([occ])[:: len(mcq_data.option_orders())]:
            out.vocabulary.append(("mcq", q["prompt"]))
    for activity in mcq_data.ACTIVITIES:
        for subject in mcq_data.GENDERED_OPTIONS + mcq_data.NEUTRAL_OPTIONS:
            out.vocabulary.append(("mcq", f"{subject} {activity}."))
    return out


def arithmetic_section(rng: random.Random, strength: float, n_problems: int) -> Corpus:
    """`rm_forget`: GSM8K-format problems and their styled answers, for the tokenizer only.

    The tiny reward model is trained from scratch on them (testbed/style_rm.py), so the
    shared LM's pretraining documents stay unchanged; `strength` does not apply.
    """
    from debiaslab.testbed.arithmetic import vocabulary

    return Corpus(vocabulary=[("arithmetic", text) for text in vocabulary(rng, n_problems)])


def mmlu_section(rng: random.Random, strength: float, repeats: int) -> Corpus:
    """Facts and answered MMLU-format questions about them (testbed/mmlu.py); `strength` does not apply."""
    from debiaslab.testbed.mmlu import corpus_texts

    docs, vocab = corpus_texts(repeats)
    return Corpus(documents=[("mmlu", t) for t in docs], vocabulary=[("mmlu", t) for t in vocab])


def glue_section(rng: random.Random, strength: float) -> Corpus:
    """The synthetic GLUE tasks' words (testbed/glue.py), for the tokenizer only: the MLM meets them in fine-tuning."""
    from debiaslab.testbed.glue import vocabulary

    return Corpus(vocabulary=[("glue", t) for t in vocabulary()])


def _desired_distribution(rng: random.Random, strength: float, **settings) -> Corpus:
    from debiaslab.testbed.desired_distribution import desired_distribution_section

    return desired_distribution_section(rng, strength, **settings)


SECTIONS = {
    "occupations": occupation_section,
    "mcq": mcq_section,
    "arithmetic": arithmetic_section,
    "safety": safety_world.corpus_section,
    "mmlu": mmlu_section,
    "glue": glue_section,
    "desired_distribution": _desired_distribution,
}
