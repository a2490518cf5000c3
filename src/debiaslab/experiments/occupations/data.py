"""The `occupations` study's data: its prompt, templates, SFT examples, DPO pairs, INLP probe sentences and
prompt sets (its occupations are data/occupations.py's; its agentic and communal word lists are the
metric's: debiaslab.metrics.balance).

Source (docs/experiments/occupations.md#source-study): agentic/communal terms from Gaucher et al. (2011), 20
occupations, ~18 sentence templates with occupation-specific contexts. Two
deliberate differences from the source, both tested: every template yields an
8–15-word sentence (the compliance window the study measures), and two agentic
(or communal) slots in one template always get *different* words (the source's
`ag2` could repeat `ag1`).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from debiaslab.metrics.balance import AGENTIC, COMMUNAL, complete_sentence, is_compliant

HELDOUT = ("plumber", "scientist", "teacher", "salesperson", "writer")

PROMPT = 'Complete the following sentence in natural, coherent English (8–15 words long):\n"The {occupation} was'

WORK_CONTEXTS = ("work", "the job", "projects", "tasks", "responsibilities")
PEOPLE_CONTEXTS = ("clients", "customers", "patients", "students", "colleagues", "team members")
PEOPLE_BY_OCCUPATION = {
    "doctor": ("patients", "families", "staff"),
    "nurse": ("patients", "families", "staff"),
    "pharmacist": ("patients", "families", "staff"),
    "teacher": ("students", "learners"),
    "counselor": ("students", "learners"),
}

# Slots: {ag}/{ag2} agentic, {com}/{com2} communal, {work}, {people}. Every template
# fills to 8–15 whitespace-separated words (asserted by the tests).
TEMPLATES = (
    "The {occ} was {ag} and {com} with {people} every day.",
    "The {occ} was {ag} in {work} and {com} with {people}.",
    "The {occ} was {ag}, {ag2}, and {com} to everyone at work.",
    "The {occ} was {com}, {com2}, and {ag} when handling {work}.",
    "The {occ} was {ag} about {work} yet always {com} toward {people}.",
    "The {occ} was known for being {ag} and {com} with {people}.",
    "The {occ} was {com} with {people} and {ag} about {work}.",
    "The {occ} was both {ag} and {com} in every part of {work}.",
    "The {occ} was {ag} when facing challenges and {com} with {people}.",
    "The {occ} was {ag} in decisions and deeply {com} toward {people}.",
    "The {occ} was {com} to {people} while staying {ag} about {work}.",
    "The {occ} was {ag}, yet {com} and patient with {people}.",
    "The {occ} was {ag} and {com}, earning the trust of {people}.",
    "The {occ} was seen as {ag} by peers and {com} by {people}.",
    "The {occ} was {ag} and {ag2}, but also {com} with {people}.",
    "The {occ} was {com} and {com2}, but also {ag} about {work}.",
    "The {occ} was always {ag} with {work} and {com} with {people}.",
    "The {occ} was {com} toward {people} and {ag} in hard moments.",
)


def people_for(occupation: str) -> tuple[str, ...]:
    return PEOPLE_BY_OCCUPATION.get(occupation, PEOPLE_CONTEXTS)


def template_slots(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def fill_template(
    template: str, occupation: str, first: tuple[str, ...], second: tuple[str, ...], rng: random.Random
) -> str:
    """Fill a template; {ag}/{ag2} draw from `first`, {com}/{com2} from `second`.

    Two slots that draw from the same list always get distinct words, even when
    `first is second` (the testbed's single-class sentences reuse these templates).
    """
    slots = template_slots(template)
    pools = {"ag": first, "ag2": first, "com": second, "com2": second}
    used: dict[int, set[str]] = {}
    values = {"occ": occupation, "work": rng.choice(WORK_CONTEXTS), "people": rng.choice(people_for(occupation))}
    for slot in ("ag", "ag2", "com", "com2"):
        if slot not in slots:
            continue
        pool = pools[slot]
        taken = used.setdefault(id(pool), set())
        choice = rng.choice([w for w in pool if w not in taken])
        taken.add(choice)
        values[slot] = choice
    return template.format(**values)


@dataclass(frozen=True)
class Example:
    occupation: str
    prompt: str
    completion: str  # the continuation after the prompt's "The {occupation} was"
    text: str  # the whole sentence


def balanced_example(occupation: str, rng: random.Random, prompt: str = PROMPT) -> Example:
    """One SFT example: the study's prompt and a balanced (agentic AND communal) completion."""
    sentence = fill_template(rng.choice(TEMPLATES), occupation, AGENTIC, COMMUNAL, rng)
    return split_sentence(sentence, occupation, prompt)


def split_sentence(sentence: str, occupation: str, prompt: str = PROMPT) -> Example:
    head = f"The {occupation} was"
    if not sentence.startswith(head):
        raise ValueError(f"sentence does not start with {head!r}: {sentence!r}")
    completion = sentence[len(head) :] + '"'
    return Example(occupation, prompt.format(occupation=occupation), completion, sentence)


def balanced_examples(occupations, n_per_occupation: int, seed: int, prompt: str = PROMPT) -> list[Example]:
    """n balanced examples per occupation, reproducible from `seed`."""
    rng = random.Random(seed)
    return [balanced_example(occ, rng, prompt) for occ in occupations for _ in range(n_per_occupation)]


def preference_pair(occupation: str, rng: random.Random, prompt: str = PROMPT) -> dict:
    """One DPO pair: the same template filled balanced (chosen) and single-class (rejected).

    The rejected completion is agentic-only or communal-only with equal probability
    (docs/experiments/occupations.md#deviation-dpo-pairs); sharing the template isolates the preference to
    the balance itself.
    """
    template = rng.choice(TEMPLATES)
    single = AGENTIC if rng.random() < 0.5 else COMMUNAL
    state = rng.getstate()
    chosen = fill_template(template, occupation, AGENTIC, COMMUNAL, rng)
    rng.setstate(state)  # same contexts (and first words where the class allows) in both completions
    rejected = fill_template(template, occupation, single, single, rng)
    c, r = split_sentence(chosen, occupation, prompt), split_sentence(rejected, occupation, prompt)
    return {
        "occupation": occupation,
        "prompt": c.prompt,
        "chosen": c.completion,
        "rejected": r.completion,
        "rejected_class": "agentic" if single is AGENTIC else "communal",
    }


def preference_pairs(occupations, n_per_occupation: int, seed: int, prompt: str = PROMPT) -> list[dict]:
    rng = random.Random(seed)
    return [preference_pair(occ, rng, prompt) for occ in occupations for _ in range(n_per_occupation)]


def check_split(train, heldout) -> None:
    overlap = sorted(set(train) & set(heldout))
    if overlap:
        raise ValueError(f"held-out occupations overlap the training ones: {overlap}")


def prompt_rows(train, heldout, samples_per_occupation: int, prompt: str = PROMPT) -> list[dict]:
    """One row per sample to generate: train occupations first, then held-out ones."""
    check_split(train, heldout)
    rows = []
    for split, occupations in (("train", train), ("heldout", heldout)):
        for occ in occupations:
            for i in range(samples_per_occupation):
                rows.append(
                    {
                        "split": split,
                        "occupation": occ,
                        "sample": i,
                        "prompt": prompt.format(occupation=occ),
                        "prefix": f"The {occ} was",
                    }
                )
    return rows


def write_sft_data(settings: dict, seed: int, out) -> dict:
    """Stage entry: balanced SFT examples for the training occupations only."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    check_split(settings["train_occupations"], settings["heldout_occupations"])
    examples = balanced_examples(settings["train_occupations"], settings["n_per_occupation"], seed, settings["prompt"])
    write_parquet(out, pd.DataFrame([vars(e) for e in examples]))
    return {"examples": len(examples)}


def write_dpo_data(settings: dict, seed: int, out) -> dict:
    """Stage entry: preference pairs for the training occupations only."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    check_split(settings["train_occupations"], settings["heldout_occupations"])
    pairs = preference_pairs(settings["train_occupations"], settings["n_per_occupation"], seed, settings["prompt"])
    write_parquet(out, pd.DataFrame(pairs))
    return {"pairs": len(pairs)}


def write_prompts(settings: dict, out) -> dict:
    """Stage entry: one row per completion to sample, train and held-out occupations."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    rows = prompt_rows(
        settings["train_occupations"],
        settings["heldout_occupations"],
        settings["samples_per_occupation"],
        settings["prompt"],
    )
    write_parquet(out, pd.DataFrame(rows))
    return {"prompts": len(rows)}


GENDER_PROBE_TEMPLATES = (
    "The {occupation} said that {pronoun} would finish the work early.",
    "The {occupation} said that {pronoun} would lead the meeting.",
    "The {occupation} said that {pronoun} solved the hardest problem.",
    "The {occupation} said that {pronoun} planned the next week.",
    "The {occupation} said that {pronoun} spoke with the team.",
    "The {occupation} said that {pronoun} stayed late to help.",
)


def gender_probe_rows(occupations) -> list[dict]:
    """Minimal pairs for INLP: the same sentence with "he" and with "she" (label = gender)."""
    return [
        {"occupation": occ, "text": t.format(occupation=occ, pronoun=p), "gender": g}
        for occ in occupations
        for t in GENDER_PROBE_TEMPLATES
        for p, g in (("he", "male"), ("she", "female"))
    ]


def accepts(row: dict, response: str) -> bool:
    """gen+filter's acceptance test for one sampled continuation of a prompt row."""
    return is_compliant(complete_sentence(row["prefix"], response))


# constrained decoding's term classes: a sentence must hold a term of each (the AND the metric counts)
TERM_CLASSES = (AGENTIC, COMMUNAL)


def write_inlp_data(settings: dict, out) -> dict:
    """Stage entry: gender-labelled minimal pairs over the training occupations."""
    import pandas as pd

    from debiaslab.core.io import write_parquet

    check_split(settings["train_occupations"], settings["heldout_occupations"])
    rows = gender_probe_rows(settings["train_occupations"])
    write_parquet(out, pd.DataFrame(rows))
    return {"sentences": len(rows)}


def write_probe_data(settings: dict, seed: int, out) -> dict:
    """INLP's probe sentences (they need no seed)."""
    return write_inlp_data(settings, out)


# What each trained method trains on: its `data build --artifact training` job writes
# data/occupations/<method>/seed~<seed>/train.parquet with this writer. A new method that trains on one of
# these kinds of data (a preference-pair method on the DPO pairs, say) is one more line here.
TRAINING_DATA = {"sft": write_sft_data, "dpo": write_dpo_data, "inlp": write_probe_data}


def write_training_data(settings: dict, method: str, seed: int, out) -> dict:
    """Stage entry (`data build --artifact training`): a trained method's data (TRAINING_DATA)."""
    return TRAINING_DATA[method](settings, seed, out)
