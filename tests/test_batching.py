"""Length-sorted batches and padding (debiaslab.core.batching): the order, the ties, both sides; and the
allocator setting that keeps a batch's memory between forwards."""

import os
import subprocess
import sys

import pytest
import torch

from debiaslab.core.batching import by_length, in_input_order, pad_batch, trimmed_batches
from debiaslab.runtime.process import keep_freed_memory


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
    from debiaslab.core.batching import pad_encoded

    encoded = {
        "input_ids": [[101, 7, 102, 9, 102], [101, 5, 102], [101, 102]],
        "token_type_ids": [[0, 0, 0, 1, 1], [0, 0, 0], [0, 0]],
    }
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


# a batched forward's pattern of allocations: multi-MB activations made and freed layer by layer
FORWARDS = """
import resource, sys, torch
from debiaslab.runtime.process import keep_freed_memory
torch.set_num_threads(1)
changed = keep_freed_memory() if sys.argv[1] == "keep" else False
torch.manual_seed(0)
layers = [torch.nn.Linear(64, 192), torch.nn.Linear(64, 192), torch.nn.Linear(192, 64)] * 2
x = torch.randn(64, 75, 64)  # 64 rows of 75 tokens: the MLP's activations are 3.7 MB each
def forward(h):
    for i in range(0, len(layers), 3):
        gate, up, down = layers[i:i + 3]
        h = h + down(torch.nn.functional.silu(gate(h)) * up(h))
    return h
with torch.no_grad():
    forward(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        forward(x)
print(changed, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_jobs_keep_freed_memory_so_batched_forwards_stop_faulting_it_in_again(monkeypatch):
    """runtime.process.keep_freed_memory (every `debiaslab` job calls it): with glibc's defaults each forward
    faults its activations in again from the kernel (measured: 1,800-3,700 faults per forward here);
    with freed memory kept, a few hundred at most."""

    def faults(mode):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
        out = subprocess.run(
            [sys.executable, "-c", FORWARDS, mode], env=env, capture_output=True, text=True, check=True
        )
        changed, count = out.stdout.split()
        return changed == "True", float(count)

    (_, default), (changed, kept) = faults("default"), faults("keep")
    assert changed and kept * 3 < default, (kept, default)
    # the user's own thresholds win
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072")
    assert keep_freed_memory() is False
