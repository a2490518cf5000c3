"""Batches of inputs of different lengths: sorted by length, padded into tensors.

Every scorer, evaluator and trainer that runs token sequences of different lengths batches them
here: sorting by length keeps the padding (computed and thrown away) per batch minimal, and each
caller puts its results back in input order with the indices it gets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def by_length(lengths: Sequence[int], batch_size: int, *, longest_first: bool = False) -> Iterator[list[int]]:
    """Input indices in batches of `batch_size`, sorted by length (stable: ties keep input order).

    `longest_first` is lm-eval's order: the first batch is the largest, so memory runs out at once or
    not at all.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=longest_first)
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def pad_batch(rows: Sequence[Sequence[int]], pad_id: int, side: str = "right", min_width: int = 0):
    """(input ids, attention mask) long tensors of the rows padded to the longest with `pad_id`.

    "right" for scoring and training (a sequence-classification head reads the last non-pad token),
    "left" where the last positions must line up (next-token scores at the end of a prompt).
    `min_width`: at least this many columns (a block that must keep its width when every row is short).
    """
    import torch

    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    # padded as Python lists, then one tensor each: a torch op per row costs more than the row itself
    width = max(min_width, *map(len, rows))
    gaps = [width - len(row) for row in rows]
    if side == "right":
        ids = [list(row) + [pad_id] * gap for row, gap in zip(rows, gaps)]
        mask = [[1] * (width - gap) + [0] * gap for gap in gaps]
    else:
        ids = [[pad_id] * gap + list(row) for row, gap in zip(rows, gaps)]
        mask = [[0] * gap + [1] * (width - gap) for gap in gaps]
    ids, mask = torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)
    return ids, mask


def pad_encoded(encoded, idx: Sequence[int], pad_id: int, side: str = "right") -> dict:
    """Rows `idx` of an unpadded tokenizer output (input ids, token type ids if any) as one model batch."""
    ids, mask = pad_batch([encoded["input_ids"][i] for i in idx], pad_id, side=side)
    batch = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in encoded:
        batch["token_type_ids"] = pad_batch([encoded["token_type_ids"][i] for i in idx], 0, side=side)[0]
    return batch


def trimmed_batches(encoded, keys: Sequence[str], batch_size: int):
    """(row indices, [encoded[key] rows]) per batch, rows sorted by length and cut to the batch's longest.

    For inputs tokenized all at once and padded on the right to the longest (as the desired-distribution
    sentences are: ~10 to 25 tokens in a split): cutting a batch's right padding leaves every real
    token's position and attention unchanged, so results are the same, and the padding is not computed.
    """
    lengths = encoded["attention_mask"].sum(1).tolist()
    for rows in by_length(lengths, batch_size):
        width = max(lengths[r] for r in rows)
        yield rows, [encoded[key][rows, :width] for key in keys]


def in_input_order(pieces, order: list[int]):
    """The concatenated per-batch results, put back in input order (differentiable: an index)."""
    import torch

    out = torch.cat(pieces)
    inverse = torch.empty(len(order), dtype=torch.long)
    inverse[torch.tensor(order, dtype=torch.long)] = torch.arange(len(order))
    return out[inverse.to(out.device)]
