"""Read a dataset by Hub name, Hub-format folder or data file, through `datasets.load_dataset`.

At scale a study names a Hub dataset (`cais/mmlu`, `Anthropic/hh-rlhf`); the testbed writes
folders in the same layout, or single data files (JSON lines, Parquet, CSV/TSV). All go through
`load_dataset`, so the testbed runs the code that full-scale runs do. `datasets` caches a local
folder under its *folder name* and reuses that cache even after the files change (or for another
folder of the same name), so a local folder is read with a fresh, temporary cache into memory.
(A data file's cache is keyed by its path and modification time: no such problem.)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


@contextlib.contextmanager
def dataset_errors(source: str):
    """Turn `load_dataset`'s failures into one DataError naming the dataset (and, offline, what to do)."""
    from datasets.exceptions import DatasetGenerationError

    from debiaslab.core.io import DataError

    try:
        yield
    except (OSError, ValueError, DatasetGenerationError) as e:
        cause = e.__cause__ if isinstance(e, DatasetGenerationError) and e.__cause__ else e
        first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if Path(source).exists():
            raise DataError(f"{source}: unreadable dataset: {first}") from e
        hint = (
            " (HF_HUB_OFFLINE=1: run `snakemake hub_download` on a machine with network first)"
            if os.environ.get("HF_HUB_OFFLINE") == "1"
            else ""
        )
        raise DataError(
            f"dataset {source!r}: not a local folder or file and not available from the Hub{hint}: {first}"
        ) from e


def require_utf8(path: Path) -> None:
    """A text data file must be UTF-8: `datasets` reads other bytes into Arrow unchecked and fails on first
    access to the row, far from the file, with neither its name nor the row."""
    from debiaslab.core.io import DataError, line_of

    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: row {line_of(data, e.start)}: not UTF-8 (byte {e.start})") from None


def load(source: str, split: str = "train", *, name: str | None = None, revision: str | None = None):
    """A `datasets.Dataset`: `split` (of config `name`) of a Hub dataset, a local folder or a data file."""
    import tempfile

    from datasets import load_dataset

    path = Path(source)
    if path.is_file():
        builder = FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            from debiaslab.core.io import DataError

            raise DataError(f"{path}: unsupported data file type {path.suffix!r}; use one of {sorted(FILE_BUILDERS)}")
        extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        if builder != "parquet":
            require_utf8(path)
        with dataset_errors(source):
            return load_dataset(builder, data_files={split: str(path)}, split=split, **extra)
    if path.exists():
        with tempfile.TemporaryDirectory(prefix="debiaslab-datasets-") as cache, dataset_errors(source):
            return load_dataset(source, name, split=split, cache_dir=cache, keep_in_memory=True)
    with dataset_errors(source):
        return load_dataset(source, name, split=split, revision=revision)


def load_split(path: str, name: str | None, split: str, *, required: Iterable[str] = ()):
    """The split as a pandas DataFrame; a missing column names the dataset, config and split."""
    from debiaslab.core.io import DataError

    dataset = load(path, split, name=name)
    missing = sorted(set(required) - set(dataset.column_names))
    if missing:
        raise DataError(f"{path} [{name}/{split}]: missing column(s) {missing}; found {dataset.column_names}")
    return dataset.to_pandas()
