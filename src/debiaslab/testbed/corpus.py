"""A synthetic corpus with a known, planted bias, assembled from sections.

Each occupation has a stereotyped gender (debiaslab.data.occupations.stereotype). With probability
`bias_strength` a sentence about it follows the stereotype (male-stereotyped → "he" and agentic
words; female-stereotyped → "she" and communal words), otherwise it is flipped. Descriptions never
mix agentic and communal words in one sentence, so a model pretrained here starts with a near-zero
AND-balance rate: the effect the `occupations` methods must move is planted and known.

Each *section* (an experiment's `testbed_sections`, experiments/<name>/; the shared ones in
testbed/sections.py) returns a `Corpus`:
documents to pretrain on and, separately, texts the tokenizer must know but the model should not
see (prompts, balanced sentences, answer letters). The sections are passed in by name, so this
module imports none of them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

PRONOUNS = {"male": ("he", "him", "his"), "female": ("she", "her", "her"), "neutral": ("they", "them", "their")}
ACTIVITIES = (
    "{p} finished the work early",
    "{p} planned the next week",
    "{p} spoke with the team",
    "{p} would lead the meeting",
    "{p} solved the hardest problem",
    "{p} stayed late to help",
)


def flip(gender: str) -> str:
    """The other planted gender: a sentence that goes against its occupation's stereotype."""
    return "female" if gender == "male" else "male"


@dataclass
class Corpus:
    documents: list[tuple[str, str]] = field(default_factory=list)  # (section, text) to pretrain on
    vocabulary: list[tuple[str, str]] = field(default_factory=list)  # (section, text) for the tokenizer only

    def extend(self, other: Corpus) -> None:
        self.documents += other.documents
        self.vocabulary += other.vocabulary


def build_corpus(seed: int, bias_strength: float, sections: dict[str, dict], builders: dict) -> Corpus:
    """Assemble the configured `sections` (name -> settings) with their `builders` (name -> section function,
    e.g. testbed.sections.SECTIONS); each gets its own RNG stream derived from `seed`."""
    if not 0.0 <= bias_strength <= 1.0:
        raise ValueError(f"bias_strength must be in [0, 1], got {bias_strength}")
    corpus = Corpus()
    for name, settings in sections.items():
        if name not in builders:
            raise KeyError(f"unknown corpus section {name!r}; known: {sorted(builders)}")
        rng = random.Random(f"{seed}:{name}")
        corpus.extend(builders[name](rng, bias_strength, **settings))
    return corpus


def write_corpus(settings: dict, out, builders: dict) -> dict:
    """Stage entry: the corpus as Parquet rows (section, text, use ∈ {pretrain, vocabulary})."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    corpus = build_corpus(settings["seed"], settings["bias_strength"], settings["corpus"], builders)
    rows = [(s, t, "pretrain") for s, t in corpus.documents] + [(s, t, "vocabulary") for s, t in corpus.vocabulary]
    write_parquet(out, pd.DataFrame(rows, columns=["section", "text", "use"]))
    return {"documents": len(corpus.documents), "vocabulary_texts": len(corpus.vocabulary)}


def read_corpus(path, use: str | None = None) -> list[str]:
    from debiaslab.core.io import read_parquet

    frame = read_parquet(path, required=["section", "text", "use"])
    if use:
        frame = frame[frame["use"] == use]
    return frame["text"].tolist()
