"""The testbed corpus's shared sections (what no one experiment owns), by name.

Each section is a function (rng, bias_strength, **its settings) -> Corpus. Every experiment adds its own
(its `testbed_sections`, experiments/registry.py); `debiaslab testbed corpus` passes these and theirs to
testbed.corpus.write_corpus.
"""

from __future__ import annotations

import random

from debiaslab.testbed.corpus import Corpus


def mmlu_section(rng: random.Random, strength: float, repeats: int) -> Corpus:
    """Facts and answered MMLU-format questions about them (testbed/mmlu.py); `strength` does not apply."""
    from debiaslab.testbed.mmlu import corpus_texts

    docs, vocab = corpus_texts(repeats)
    return Corpus(documents=[("mmlu", t) for t in docs], vocabulary=[("mmlu", t) for t in vocab])


def glue_section(rng: random.Random, strength: float) -> Corpus:
    """The synthetic GLUE tasks' words (testbed/glue.py), for the tokenizer only: the MLM meets them in fine-tuning."""
    from debiaslab.testbed.glue import vocabulary

    return Corpus(vocabulary=[("glue", t) for t in vocabulary()])


SECTIONS = {"mmlu": mmlu_section, "glue": glue_section}
