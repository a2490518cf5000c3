"""The occupations the testbed and two experiments share, and each one's stereotyped gender.

The testbed plants these stereotypes (testbed/corpus.py, testbed/bias_suite.py); `occupations` builds its
prompts and examples over these occupations (experiments/occupations/data.py) and `reward_guided` its
questions, reporting how often a response picks the stereotyped pronoun (experiments/reward_guided/).
"""

from __future__ import annotations

OCCUPATIONS = (
    "architect",
    "artist",
    "barista",
    "chef",
    "counselor",
    "doctor",
    "electrician",
    "engineer",
    "journalist",
    "lawyer",
    "mechanic",
    "nurse",
    "pharmacist",
    "photographer",
    "pilot",
    "plumber",
    "scientist",
    "teacher",
    "salesperson",
    "writer",
)
# Each occupation's stereotyped gender: the testbed plants it, and reward_guided's scoring reports how
# often a response picks it.
MALE_STEREOTYPED = (
    "architect",
    "chef",
    "doctor",
    "electrician",
    "engineer",
    "lawyer",
    "mechanic",
    "pilot",
    "plumber",
    "scientist",
)
FEMALE_STEREOTYPED = (
    "artist",
    "barista",
    "counselor",
    "journalist",
    "nurse",
    "pharmacist",
    "photographer",
    "teacher",
    "salesperson",
    "writer",
)


def stereotype(occupation: str) -> str:
    """The occupation's planted stereotype: male or female (KeyError if it has none)."""
    if occupation in MALE_STEREOTYPED:
        return "male"
    if occupation in FEMALE_STEREOTYPED:
        return "female"
    raise KeyError(f"occupation {occupation!r} has no planted stereotype")
