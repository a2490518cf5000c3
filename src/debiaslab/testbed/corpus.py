"""A synthetic corpus with a known, planted bias.

Each occupation has a stereotyped gender. With probability `bias_strength` a
sentence about it follows the stereotype (male-stereotyped → "he" and agentic
words; female-stereotyped → "she" and communal words), otherwise it is flipped.
Descriptions never mix agentic and communal words in one sentence, so a model
pretrained here starts with a near-zero AND-balance rate: the effect the
`occupations` methods must move is planted and known.

The corpus is assembled from *sections*; each returns documents to pretrain on
and, separately, texts the tokenizer must know but the model should not see
(prompts, balanced sentences, answer letters). Later experiments add sections.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from debiaslab.data import mcq as mcq_data
from debiaslab.data import occupations as occ_data
from debiaslab.testbed import safety as safety_world

MALE_STEREOTYPED = (
    "architect", "chef", "doctor", "electrician", "engineer",
    "lawyer", "mechanic", "pilot", "plumber", "scientist",
)
FEMALE_STEREOTYPED = (
    "artist", "barista", "counselor", "journalist", "nurse",
    "pharmacist", "photographer", "teacher", "salesperson", "writer",
)
PRONOUNS = {"male": ("he", "him", "his"), "female": ("she", "her", "her"), "neutral": ("they", "them", "their")}
ACTIVITIES = (
    "{p} finished the work early", "{p} planned the next week", "{p} spoke with the team",
    "{p} would lead the meeting", "{p} solved the hardest problem", "{p} stayed late to help",
)


def stereotype(occupation: str) -> str:
    if occupation in MALE_STEREOTYPED:
        return "male"
    if occupation in FEMALE_STEREOTYPED:
        return "female"
    raise KeyError(f"occupation {occupation!r} has no planted stereotype")


@dataclass
class Corpus:
    documents: list[tuple[str, str]] = field(default_factory=list)  # (section, text) to pretrain on
    vocabulary: list[tuple[str, str]] = field(default_factory=list)  # (section, text) for the tokenizer only

    def extend(self, other: "Corpus") -> None:
        self.documents += other.documents
        self.vocabulary += other.vocabulary


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


SECTIONS = {"occupations": occupation_section, "mcq": mcq_section, "arithmetic": arithmetic_section,
            "safety": safety_world.corpus_section, "mmlu": mmlu_section, "glue": glue_section,
            "desired_distribution": _desired_distribution}


def build_corpus(seed: int, bias_strength: float, sections: dict[str, dict]) -> Corpus:
    """Assemble the configured sections; each gets its own RNG stream derived from `seed`."""
    if not 0.0 <= bias_strength <= 1.0:
        raise ValueError(f"bias_strength must be in [0, 1], got {bias_strength}")
    corpus = Corpus()
    for name, settings in sections.items():
        if name not in SECTIONS:
            raise KeyError(f"unknown corpus section {name!r}; known: {sorted(SECTIONS)}")
        rng = random.Random(f"{seed}:{name}")
        corpus.extend(SECTIONS[name](rng, bias_strength, **settings))
    return corpus


def write_corpus(settings: dict, out) -> dict:
    """Stage entry: the corpus as Parquet rows (section, text, use ∈ {pretrain, vocabulary})."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    corpus = build_corpus(settings["seed"], settings["bias_strength"], settings["corpus"])
    rows = [(s, t, "pretrain") for s, t in corpus.documents] + [(s, t, "vocabulary") for s, t in corpus.vocabulary]
    write_parquet(out, pd.DataFrame(rows, columns=["section", "text", "use"]))
    return {"documents": len(corpus.documents), "vocabulary_texts": len(corpus.vocabulary)}


def read_corpus(path, use: str | None = None) -> list[str]:
    from debiaslab.core.io import read_parquet

    frame = read_parquet(path, required=["section", "text", "use"])
    if use:
        frame = frame[frame["use"] == use]
    return frame["text"].tolist()
