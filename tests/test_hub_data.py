"""debiaslab.hub.datasets.load: one front door for Hub names, Hub-format folders and data files."""

import json

import pytest

from debiaslab.core.io import DataError
from debiaslab.hub.datasets import load


def write_folder(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_folders_of_one_name_are_read_as_they_are_and_stay_readable(tmp_path):
    """Each folder's own rows, also after it is rewritten in place, and readable after the read's
    temporary cache is gone (held in memory). tests/test_gsm8k_styles.py has the case where `datasets`'
    own cache would serve another folder's rows."""
    write_folder(tmp_path / "a" / "hh", [{"chosen": "x", "rejected": "y"}] * 3)
    write_folder(tmp_path / "b" / "hh", [{"chosen": "p", "rejected": "q"}] * 5)
    first, second = load(str(tmp_path / "a" / "hh")), load(str(tmp_path / "b" / "hh"))
    assert (len(first), len(second)) == (3, 5)
    assert second.select([4, 0])["chosen"] == ["p", "p"]
    write_folder(tmp_path / "a" / "hh", [{"chosen": "z", "rejected": "y"}] * 2)  # rewritten in place
    assert load(str(tmp_path / "a" / "hh"))["chosen"] == ["z", "z"]


def test_data_files_by_suffix(tmp_path):
    (tmp_path / "rows.tsv").write_text("text\tlabel\nhello\t1\nbye\t0\n")
    assert load(str(tmp_path / "rows.tsv"))["text"] == ["hello", "bye"]
    (tmp_path / "rows.xml").write_text("<rows/>")
    with pytest.raises(DataError, match="unsupported data file type '.xml'"):
        load(str(tmp_path / "rows.xml"))
