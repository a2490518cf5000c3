"""hh-rlhf dialogues → SFT messages and DPO pairs; seeded sampling through the Hub loader; bias prompt sets."""

import json
from collections import Counter

import pandas as pd
import pytest

from debiaslab.core.io import DataError
from debiaslab.experiments.safety import hh_rlhf
from debiaslab.experiments.safety.bias_prompts import select_prompts, write_prompts
from debiaslab.experiments.safety.hh_rlhf import Parsed, build_examples, dpo_example, split_turns

COLON_DIALOGUE = (
    "\n\nHuman: Here is my list: eggs, milk. Also: what time do shops open? 9:30?"
    "\n\nAssistant: Sure: most open at 9:30. Note: some open at 8:00."
    "\n\nHuman: A quote from my book — Human: a being. Assistant: a helper. Thoughts?"
    "\n\nAssistant: Definitions: both are right."
)


def test_messages_with_colons_come_back_whole():
    assert split_turns(COLON_DIALOGUE) == [
        {"role": "user", "content": "Here is my list: eggs, milk. Also: what time do shops open? 9:30?"},
        {"role": "assistant", "content": "Sure: most open at 9:30. Note: some open at 8:00."},
        # "Human:" / "Assistant:" inside a message (not after a blank line) are not markers
        {"role": "user", "content": "A quote from my book — Human: a being. Assistant: a helper. Thoughts?"},
        {"role": "assistant", "content": "Definitions: both are right."},
    ]


def test_split_accepts_a_leading_marker_without_blank_line_and_multiline_messages():
    assert split_turns("Human: line one\nline two: more\n\nAssistant: ok") == [
        {"role": "user", "content": "line one\nline two: more"},
        {"role": "assistant", "content": "ok"},
    ]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("no markers at all", "no 'Human:' or 'Assistant:' turn marker"),
        ("preamble\n\nHuman: hi\n\nAssistant: hello", "text before the first turn marker"),
    ],
)
def test_malformed_dialogues_fail_naming_the_row(text, fragment):
    with pytest.raises(DataError, match=fragment) as err:
        split_turns(text, "data.jsonl: row 7 (chosen)")
    assert "row 7" in str(err.value)


def test_dpo_pair_is_all_turns_but_last_then_each_final_reply():
    chosen = split_turns(COLON_DIALOGUE)
    rejected = chosen[:-1] + [{"role": "assistant", "content": "Rejected: reply."}]
    example, problem = dpo_example(Parsed(chosen, rejected))
    assert problem is None
    assert example["prompt"] == chosen[:3]
    assert example["chosen"] == [{"role": "assistant", "content": "Definitions: both are right."}]
    assert example["rejected"] == [{"role": "assistant", "content": "Rejected: reply."}]


def test_rows_that_make_no_valid_example_are_counted_by_reason():
    good = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}
    rows = [
        {"row": 0, **good},
        {"row": 1, "chosen": "\n\nHuman: a\n\nAssistant:", "rejected": "\n\nHuman: a\n\nAssistant: c"},
        {"row": 2, "chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: more?", "rejected": good["rejected"]},
        {"row": 3, "chosen": good["chosen"], "rejected": "\n\nHuman: other\n\nAssistant: c"},
    ]
    sft, sft_skipped = build_examples(rows, "x.jsonl", "sft")
    dpo, dpo_skipped = build_examples(rows, "x.jsonl", "dpo")
    assert [e["row"] for e in sft] == [0, 3]
    assert sft_skipped == Counter({"empty final reply": 1, "final turn is not the assistant's": 1})
    assert [e["row"] for e in dpo] == [0]
    assert dpo_skipped["chosen and rejected differ before the final turn"] == 1


def test_local_file_goes_through_the_hub_loader_and_sampling_is_seeded(tmp_path):
    path = tmp_path / "hh.jsonl"
    rows = [
        {"chosen": f"\n\nHuman: q{i}: x\n\nAssistant: yes: {i}", "rejected": f"\n\nHuman: q{i}: x\n\nAssistant: no"}
        for i in range(30)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    settings = {"dataset": str(path), "split": "train", "n_rows": 10}
    summary = hh_rlhf.write_data(settings, 42, tmp_path / "sft.parquet", tmp_path / "dpo.parquet")
    assert summary["sft"]["examples"] == summary["dpo"]["examples"] == 10
    sft, dpo = pd.read_parquet(tmp_path / "sft.parquet"), pd.read_parquet(tmp_path / "dpo.parquet")
    assert list(sft["row"]) == list(dpo["row"]) and len(set(sft["row"])) == 10
    i = int(sft["row"].iloc[0])
    assert list(sft["messages"].iloc[0]) == [
        {"role": "user", "content": f"q{i}: x"},
        {"role": "assistant", "content": f"yes: {i}"},
    ]
    again = hh_rlhf.sample_rows(str(path), "train", 10, 42)
    other = hh_rlhf.sample_rows(str(path), "train", 10, 123)
    assert [r["row"] for r in again] == list(sft["row"])
    assert [r["row"] for r in other] != [r["row"] for r in again]
    with pytest.raises(DataError, match="asked for 31 rows but it has only 30"):
        hh_rlhf.sample_rows(str(path), "train", 31, 42)


def test_prompt_sets_sample_flagged_rows_per_bias_type():
    texts = ["g0", "g1", "r0", "both", "none"]
    flags = {"gender": [1, 1.0, 0, "1", 0], "racial": [0, 0, True, 1, 0]}
    rows = select_prompts(texts, flags, ["gender", "racial"], 2, 42, "corpus")
    gender = [r["prompt"] for r in rows if r["bias_type"] == "gender"]
    racial = [r["prompt"] for r in rows if r["bias_type"] == "racial"]
    assert len(gender) == 2 and set(gender) <= {"g0", "g1", "both"}
    assert sorted(racial) == ["both", "r0"]  # the only two flagged rows
    assert rows == select_prompts(texts, flags, ["gender", "racial"], 2, 42, "corpus")
    with pytest.raises(DataError, match="2 rows have racial = 1; 3 were asked for"):
        select_prompts(texts, flags, ["racial"], 3, 42, "corpus")
    with pytest.raises(DataError, match="no column 'age'"):
        select_prompts(texts, flags, ["age"], 1, 42, "corpus")


def test_prompt_file_in_biased_corpus_format(tmp_path):
    path = tmp_path / "corpus.csv"
    pd.DataFrame({"biased_text": ["a: b", "c", "d"], "gender": [1, 0, 1], "racial": [0, 1, 0]}).to_csv(
        path, index=False
    )
    out = tmp_path / "prompts.parquet"
    settings = {
        "dataset": str(path),
        "split": "train",
        "text_column": "biased_text",
        "per_bias_type": 1,
        "seed": 42,
        "bias_types": ["gender", "racial"],
    }
    assert write_prompts(settings, out) == {"gender": 1, "racial": 1}
    table = pd.read_parquet(out)
    assert list(table.columns) == ["bias_type", "sample", "row", "prompt"]
    assert table.loc[table.bias_type == "racial", "prompt"].tolist() == ["c"]
