"""Open a dataset by Hub name or local path through one `datasets.load_dataset` call path.

At scale a study names a Hub dataset (`Anthropic/hh-rlhf`); the testbed writes a
local file in the same format. Both go through `load_dataset`, so the testbed runs
the code that full-scale runs do: a file is read by its format's builder (json,
parquet, csv), a folder or Hub name by the name itself.
"""

from __future__ import annotations

from pathlib import Path

FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


def load(source: str, split: str = "train", revision: str | None = None):
    """A `datasets.Dataset` for `split` of a Hub dataset, a local folder, or a local data file."""
    from datasets import load_dataset

    from debiaslab.data.hub import dataset_errors

    path = Path(source)
    if path.is_file():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            from debiaslab.io import DataError

            raise DataError(f"{path}: unsupported data file type {path.suffix!r}; use one of {sorted(FILE_BUILDERS)}")
        extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        with dataset_errors(source):
            return load_dataset(builder, data_files={split: str(path)}, split=split, **extra)
    with dataset_errors(source):
        return load_dataset(source, split=split, revision=revision)


def sample_indices(size: int, n: int, seed: int, where: str) -> list[int]:
    """n distinct row indices drawn with numpy's default_rng(seed), in draw order.

    The source sampled its 10,000 hh-rlhf rows "with numpy seed 42"; its exact call is not
    recorded, so the rows drawn here may differ from its sample (same size, same seed).
    """
    import numpy as np

    if n > size:
        from debiaslab.io import DataError

        raise DataError(f"{where}: asked for {n} rows but it has only {size}")
    return np.random.default_rng(seed).choice(size, size=n, replace=False).tolist()
