"""Length-sorted batches and padding (debiaslab.batching): the order, the ties, both sides."""

import pytest
import torch

from debiaslab.batching import by_length, in_input_order, pad_batch, trimmed_batches


def test_batches_are_sorted_by_length_and_ties_keep_input_order():
    assert list(by_length([5, 1, 3, 2], batch_size=2)) == [[1, 3], [2, 0]]
    assert list(by_length([2, 3, 2, 3, 1], batch_size=2)) == [[4, 0], [2, 1], [3]]
    # lm-eval's order: longest first, ties still in input order (as sorted(key=-len) gives)
    assert list(by_length([2, 3, 2, 3, 1], batch_size=2, longest_first=True)) == [[1, 3], [0, 2], [4]]
    assert list(by_length([], batch_size=4)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(by_length([1], batch_size=0))


def test_padding_on_either_side():
    ids, mask = pad_batch([[7, 8, 9], [5]], pad_id=0)
    assert ids.tolist() == [[7, 8, 9], [5, 0, 0]] and mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = pad_batch([[7, 8, 9], [5]], pad_id=2, side="left")
    assert ids.tolist() == [[7, 8, 9], [2, 2, 5]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert ids.dtype == mask.dtype == torch.long
    with pytest.raises(ValueError, match="side"):
        pad_batch([[1]], 0, side="middle")
    ids, mask = pad_batch([[], [4]], pad_id=0, min_width=3)  # a block that keeps its width
    assert ids.tolist() == [[0, 0, 0], [4, 0, 0]] and mask.tolist() == [[0, 0, 0], [1, 0, 0]]


def test_a_tokenizer_output_becomes_one_batch():
    from debiaslab.batching import pad_encoded

    encoded = {"input_ids": [[101, 7, 102, 9, 102], [101, 5, 102], [101, 102]],
               "token_type_ids": [[0, 0, 0, 1, 1], [0, 0, 0], [0, 0]]}
    batch = pad_encoded(encoded, [1, 0], pad_id=0)
    assert batch["input_ids"].tolist() == [[101, 5, 102, 0, 0], [101, 7, 102, 9, 102]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]]
    left = pad_encoded({"input_ids": encoded["input_ids"]}, [2, 1], pad_id=3, side="left")
    assert set(left) == {"input_ids", "attention_mask"} and left["input_ids"].tolist() == [[3, 101, 102], [101, 5, 102]]


def test_trimmed_batches_sort_by_length_and_cut_right_padding():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]])
    ids = torch.tensor([[5, 6, 7, 0], [8, 0, 0, 0], [9, 4, 0, 0]])
    batches = list(trimmed_batches({"input_ids": ids, "attention_mask": mask}, ("input_ids", "attention_mask"), 2))
    assert [rows for rows, _ in batches] == [[1, 2], [0]]
    assert batches[0][1][0].tolist() == [[8, 0], [9, 4]] and batches[0][1][1].tolist() == [[1, 0], [1, 1]]
    assert batches[1][1][0].tolist() == [[5, 6, 7]]
    # per-batch results (here: each row's first id) back in input order
    pieces = [b_ids[:, 0] for _, (b_ids, _) in batches]
    assert in_input_order(pieces, [r for rows, _ in batches for r in rows]).tolist() == [5, 8, 9]
