"""GSM8K styled answers: parsing, the consistent wrong step, styles, pair modes, RM-Bench items."""

import random
import re

import pandas as pd
import pytest

from debiaslab.data.answer_styles import MARKDOWN, STYLES, AnswerError, make_incorrect, parse_answer, render, variants
from debiaslab.experiments.rm_forget.data import PAIR_MODES, item_table, pair_table, write_style_data
from debiaslab.testbed.arithmetic import problems, write_dataset

# The first training example of openai/gsm8k (main).
NATALIA_Q = (
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips to her friends "
    "in May. How many clips did Natalia sell altogether in April and May?"
)
NATALIA_A = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"
)


def test_parse_answer_reads_lines_and_final_number():
    sol = parse_answer(NATALIA_A)
    assert sol.final == "72" and len(sol.lines) == 2
    assert parse_answer("It costs <<2*500=1000>>1,000.\n#### 1,000").final == "1000"
    with pytest.raises(AnswerError):
        parse_answer("no final answer here")


def test_incorrect_answer_swaps_the_final_step_operator_consistently():
    wrong, how = make_incorrect(parse_answer(NATALIA_A), random.Random(0))
    assert how == "operation"
    assert wrong.final == "24"  # 48 - 24
    assert wrong.lines[0] == "Natalia sold 48/2 = <<48/2=24>>24 clips in May."  # earlier steps untouched
    assert wrong.lines[1] == "Natalia sold 48-24 = <<48-24=24>>24 clips altogether in April and May."


def test_incorrect_answer_without_a_matching_annotation_shifts_the_final_number():
    answer = "She has 3 bags with 4 each, so 12 apples.\n#### 12"
    wrong, how = make_incorrect(parse_answer(answer), random.Random(0))
    assert how == "shift" and wrong.final != "12"
    assert wrong.lines[0] == f"She has 3 bags with 4 each, so {wrong.final} apples."


def _equations(text):
    return re.findall(r"(\d+) ?([-+*/]) ?(\d+) = (\d+)", text)


@pytest.mark.parametrize("seed", [0, 1])
def test_every_testbed_problem_gets_six_variants_with_a_consistent_wrong_step(seed):
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}
    for row in problems(50, random.Random(seed)):
        vs = variants(row["question"], row["answer"], random.Random(seed))
        assert [(v["style"], v["correct"]) for v in vs] == [(s, c) for c in (True, False) for s in STYLES]
        right = {v["style"]: v for v in vs if v["correct"]}
        wrong = {v["style"]: v for v in vs if not v["correct"]}
        for style in STYLES:
            assert wrong[style]["final"] != right[style]["final"]
            assert wrong[style]["perturbation"] == "operation"
            # every equation the wrong answer shows is right arithmetic (for its wrong operator), and its
            # last result is the final number it reports: the error is one step, carried through
            eqs = _equations(wrong[style]["response"])
            assert eqs and all(ops[op](int(a), int(b)) == int(c) for a, op, b, c in eqs)
            assert eqs[-1][3] == wrong[style]["final"]
            assert _equations(right[style]["response"])[:-1] == eqs[:-1]


def test_only_the_markdown_style_uses_markdown():
    sol = parse_answer(NATALIA_A)
    texts = {s: render(sol, s) for s in STYLES}
    for style in ("concise", "detailed_plain"):
        assert not re.search(r"\*\*|^#|^- ", texts[style], re.M), texts[style]
        assert "<<" not in texts[style]
    assert (
        texts[MARKDOWN].startswith("## Solution") and "**Step 1:**" in texts[MARKDOWN] and "**72**" in texts[MARKDOWN]
    )
    assert texts["concise"] == "48/2 = 24, 48+24 = 72. The answer is 72."
    assert len(texts["concise"]) < len(texts["detailed_plain"]) < len(texts[MARKDOWN])


def test_pair_modes_hold_the_right_factor_equal():
    for (cs, cc), (rs, rc) in PAIR_MODES["style"]:
        assert cc == rc and cs != MARKDOWN and rs == MARKDOWN
    for (cs, cc), (rs, rc) in PAIR_MODES["correctness"]:
        assert cs == rs and cc and not rc
    for (cs, cc), (rs, rc) in PAIR_MODES["cross"]:
        assert cc and not rc and cs != MARKDOWN and rs == MARKDOWN
    assert {m: len(p) for m, p in PAIR_MODES.items()} == {"style": 4, "correctness": 3, "cross": 2}


def test_pairs_and_items_from_rows():
    rows = [
        {"split": "train", "question_id": "q1", "prompt": NATALIA_Q, **v}
        for v in variants(NATALIA_Q, NATALIA_A, random.Random(0))
    ]
    pairs = pair_table(rows)
    assert pairs.groupby("mode").size().to_dict() == {"correctness": 3, "cross": 2, "style": 4}
    cross = pairs[pairs["mode"] == "cross"].iloc[0]
    assert cross["chosen"].startswith("48/2 = 24, 48+24 = 72") and cross["rejected"].startswith("## Solution")
    assert "**24**" in cross["rejected"]
    items = item_table(rows)
    assert len(items) == 1
    item = items.iloc[0]
    assert [len(item["chosen"]), len(item["rejected"])] == [3, 3]
    assert "72" in item["chosen"][0] and item["rejected"][2].startswith("## Solution")


def test_stage_reads_a_hub_format_folder_through_load_dataset(tmp_path):
    write_dataset({"n_train": 12, "n_test": 5, "seed": 3}, tmp_path / "arith")
    assert (tmp_path / "arith/README.md").is_file() and (tmp_path / "arith/main/test-00000-of-00001.parquet").is_file()
    settings = {
        "dataset": {"path": str(tmp_path / "arith"), "name": "main"},
        "n_train_questions": 10,
        "n_eval_questions": 4,
    }
    summary = write_style_data(settings, tmp_path / "pairs.parquet", tmp_path / "items.parquet")
    assert summary == {
        "train_questions": 10,
        "eval_items": 4,
        "pairs_per_mode": {"correctness": 30, "cross": 20, "style": 40},
    }
    items = pd.read_parquet(tmp_path / "items.parquet")
    assert items["id"].str.startswith("test-").all() and items["id"].is_unique
    first = (tmp_path / "pairs.parquet").read_bytes()
    write_style_data(settings, tmp_path / "pairs.parquet", tmp_path / "items.parquet")
    assert (tmp_path / "pairs.parquet").read_bytes() == first  # seeded: the same bytes again


def test_two_folders_of_the_same_name_are_read_as_they_are(tmp_path):
    """`datasets` would serve the first folder's cache for the second (same folder name): it must not."""
    from debiaslab.data.gsm8k import load_problems

    write_dataset({"n_train": 7, "n_test": 2, "seed": 0}, tmp_path / "a" / "arithmetic")
    write_dataset({"n_train": 9, "n_test": 2, "seed": 1}, tmp_path / "b" / "arithmetic")
    first = load_problems(str(tmp_path / "a" / "arithmetic"), "main", "train", None, 0)
    second = load_problems(str(tmp_path / "b" / "arithmetic"), "main", "train", None, 0)
    assert (len(first), len(second)) == (7, 9)
    write_dataset({"n_train": 5, "n_test": 2, "seed": 2}, tmp_path / "a" / "arithmetic")  # rewritten in place
    assert len(load_problems(str(tmp_path / "a" / "arithmetic"), "main", "train", None, 0)) == 5


def test_testbed_corpus_code_excludes_pair_building_and_training():
    """The corpus (hence tokenizers and the shared LM) reruns on edits to answer rendering only."""
    from debiaslab.core.provenance import ROOT, module_closure
    from debiaslab.experiments.base import module_of
    from debiaslab.experiments.registry import testbed_sections

    # the testbed_corpus rule's code (rules/testbed.smk): the corpus writer, the shared sections, every experiment's
    sections = sorted({module_of(entry) for entry in testbed_sections().values()})
    names = {
        p.relative_to(ROOT).as_posix()
        for p in module_closure("debiaslab.testbed.corpus", "debiaslab.testbed.sections", *sections)
    }
    assert "data/answer_styles.py" in names and "testbed/arithmetic.py" in names
    assert not names & {
        "data/gsm8k.py",
        "experiments/rm_forget/data.py",
        "methods/forget_lora.py",
        "experiments/rm_forget/scoring.py",
        "testbed/style_rm.py",
    }
