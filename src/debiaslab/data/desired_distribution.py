"""The `desired_distribution` study's occupations, templates and gendered words
(docs/experiments/desired_distribution.md#data).

The tables ship with the package (`resources/desired_distribution/`, provenance in its
README): 225 occupations with the BLS 2024 share of women, the paper's 146/34/45
train/valid/test split, templates T1–T6 and 11 + 11 gendered words. A sentence fills a
template with one gendered phrase and one occupation, e.g. T1 "[DET][AAA] is [ARTICLE]
[TTT]." with "my sister" and "engineer" gives "my sister is an engineer.". As in the source,
a phrase's first word is its determiner ("my", "this"), kept unmasked; the rest is the
attribute word. Each sentence records the character spans of the attribute and the
occupation, so scorers mask by *token positions* found from offsets, which works for
WordPiece and byte-level BPE alike (the source counted sub-words of the word alone).

Train and valid occupations use the training templates T1–T3; test occupations use the
held-out templates T4–T6 (the source's rule).

Stdlib only at module level: the testbed corpus imports this.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

GENDERS = ("male", "female")
CATEGORIES = ("male_dominated", "balanced", "female_dominated")
SPLITS = ("train", "valid", "test")
TEMPLATES_FOR_SPLIT = {"train": "train", "valid": "train", "test": "test"}
PLACEHOLDER = re.compile(r"\[(DET|AAA|ARTICLE|TTT)\]")

# a/an by sound, not spelling (the source asked eng_to_ipa for the first phoneme). Vowel
# letters that sound like a consonant ("a unit", "a one-off", "a European") and silent h
# ("an hour", "an honest") are the exceptions; the 225 occupations are checked in the tests.
_CONSONANT_SOUND_PREFIXES = ("uni", "use", "usu", "uti", "ura", "uro", "eu", "ewe", "one", "once")
_VOWEL_SOUND_PREFIXES = ("hour", "honest", "honor", "honour", "heir")


def resources_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("debiaslab") / "resources" / "desired_distribution"))


@dataclass(frozen=True)
class Profession:
    name: str
    prof_gender: str
    female_dist: float
    male_dist: float


@dataclass(frozen=True)
class GenderedWord:
    phrase: str  # as listed: "he", "this man", "my sister"
    gender: str
    determiner: str  # "" or the first word plus a space, kept unmasked
    attribute: str  # the word(s) scored and masked


def _read_tsv(path: Path, required: tuple[str, ...]) -> list[dict]:
    from debiaslab.core.io import DataError

    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    missing = [c for c in required if rows and c not in rows[0]]
    if not rows or missing:
        raise DataError(f"{path}: " + (f"missing column(s) {missing}" if rows else "no rows"))
    return rows


def read_professions(split: str, root: str | Path | None = None) -> list[Profession]:
    """The occupations of one split (`train`, `valid`, `test`) or `all` (profession_dist.tsv)."""
    from debiaslab.core.io import DataError

    root = Path(root) if root else resources_dir()
    path = root / ("profession_dist.tsv" if split == "all" else f"professions_{split}.tsv")
    out = []
    for i, row in enumerate(_read_tsv(path, ("profession", "prof_gender", "female_dist", "male_dist")), start=2):
        if row["prof_gender"] not in CATEGORIES:
            raise DataError(f"{path}: row {i}: prof_gender {row['prof_gender']!r} not in {CATEGORIES}")
        female, male = float(row["female_dist"]), float(row["male_dist"])
        if not (0.0 <= female <= 1.0 and abs(female + male - 1.0) < 1e-6):
            raise DataError(f"{path}: row {i}: female_dist {female} and male_dist {male} must be shares summing to 1")
        out.append(Profession(row["profession"].strip(), row["prof_gender"], female, male))
    return out


def read_templates(which: str, root: str | Path | None = None) -> dict[str, str]:
    """Template id → template, from templates_{which}.tsv (train, test or all)."""
    root = Path(root) if root else resources_dir()
    rows = _read_tsv(root / f"templates_{which}.tsv", ("template_id", "template"))
    return {row["template_id"].strip(): row["template"].strip() for row in rows}


def templates_for(split: str, root: str | Path | None = None) -> dict[str, str]:
    return read_templates(TEMPLATES_FOR_SPLIT[split], root)


def read_gendered_words(root: str | Path | None = None) -> list[GenderedWord]:
    root = Path(root) if root else resources_dir()
    words = []
    for gender in GENDERS:
        path = root / f"{gender}_gendered_words.txt"
        for phrase in path.read_text(encoding="utf-8").splitlines():
            phrase = " ".join(phrase.split())
            if not phrase:
                continue
            first, _, rest = phrase.partition(" ")
            words.append(GenderedWord(phrase, gender, f"{first} " if rest else "", rest or first))
    return words


def indefinite_article(phrase: str) -> str:
    """'a' or 'an' for the sound `phrase` starts with."""
    word = phrase.strip().lower()
    if word.startswith(_VOWEL_SOUND_PREFIXES):
        return "an"
    if word.startswith(_CONSONANT_SOUND_PREFIXES):
        return "a"
    return "an" if word[:1] in "aeiou" else "a"


@dataclass(frozen=True)
class Filled:
    sentence: str
    attribute_span: tuple[int, int]  # [start, end) character offsets
    profession_span: tuple[int, int]


def fill(template: str, word: GenderedWord, profession: str) -> Filled:
    """Fill one template; record where the attribute and the occupation sit."""
    values = {
        "DET": word.determiner,
        "AAA": word.attribute,
        "ARTICLE": indefinite_article(profession),
        "TTT": profession,
    }
    out, spans, pos = [], {}, 0
    for i, piece in enumerate(PLACEHOLDER.split(template)):
        text = values[piece] if i % 2 else piece  # odd pieces are the captured placeholder names
        if i % 2 and piece in ("AAA", "TTT"):
            if piece in spans:
                raise ValueError(f"template {template!r} has more than one [{piece}]")
            spans[piece] = (pos, pos + len(text))
        out.append(text)
        pos += len(text)
    if set(spans) != {"AAA", "TTT"}:
        raise ValueError(f"template {template!r} needs one [AAA] and one [TTT]")
    return Filled("".join(out), spans["AAA"], spans["TTT"])


SENTENCE_COLUMNS = (
    "split",
    "template_id",
    "profession",
    "prof_gender",
    "female_dist",
    "male_dist",
    "gender",
    "phrase",
    "attribute",
    "sentence",
    "attr_start",
    "attr_end",
    "prof_start",
    "prof_end",
)


def sentence_rows(splits=SPLITS, root: str | Path | None = None) -> list[dict]:
    """Every (split, template, occupation, gendered word) sentence, occupation-major within a split.

    The order is fixed — per occupation all templates, each with all words — so a scorer can
    reshape a split's scores to [occupations, templates × words].
    """
    words = read_gendered_words(root)
    rows = []
    for split in splits:
        templates = templates_for(split, root)
        for prof in read_professions(split, root):
            for template_id, template in templates.items():
                for word in words:
                    filled = fill(template, word, prof.name)
                    rows.append(
                        {
                            "split": split,
                            "template_id": template_id,
                            "profession": prof.name,
                            "prof_gender": prof.prof_gender,
                            "female_dist": prof.female_dist,
                            "male_dist": prof.male_dist,
                            "gender": word.gender,
                            "phrase": word.phrase,
                            "attribute": word.attribute,
                            "sentence": filled.sentence,
                            "attr_start": filled.attribute_span[0],
                            "attr_end": filled.attribute_span[1],
                            "prof_start": filled.profession_span[0],
                            "prof_end": filled.profession_span[1],
                        }
                    )
    return rows


def read_sentences(path, split: str | None = None):
    """The sentence table (optionally one split), checked for the columns scorers rely on."""
    from debiaslab.core.io import read_parquet

    frame = read_parquet(path, required=list(SENTENCE_COLUMNS))
    if split is not None:
        frame = frame[frame["split"] == split].reset_index(drop=True)
    return frame
