"""Read one split of a dataset by Hub name or Hub-format folder, through `datasets.load_dataset`.

The same call reads `cais/mmlu`, `nyu-mll/glue` or `openai/gsm8k` and the testbed's folders in
their layout. `datasets` caches a local folder under its *folder name* and reuses that cache even
after the files change (or for another folder of the same name), so local folders are read with a
fresh, temporary cache.
"""

from __future__ import annotations

import contextlib
import os

from pathlib import Path
from typing import Iterable


@contextlib.contextmanager
def dataset_errors(source: str):
    """Turn `load_dataset`'s failures into one DataError naming the dataset (and, offline, what to do)."""
    from datasets.exceptions import DatasetGenerationError

    from debiaslab.io import DataError

    try:
        yield
    except (OSError, ValueError, DatasetGenerationError) as e:
        cause = e.__cause__ if isinstance(e, DatasetGenerationError) and e.__cause__ else e
        first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        if Path(source).exists():
            raise DataError(f"{source}: unreadable dataset: {first}") from e
        hint = (" (HF_HUB_OFFLINE=1: run `snakemake hub_download` on a machine with network first)"
                if os.environ.get("HF_HUB_OFFLINE") == "1" else "")
        raise DataError(f"dataset {source!r}: not a local folder or file and not available from the Hub{hint}: "
                        f"{first}") from e


def load_split(path: str, name: str | None, split: str, *, required: Iterable[str] = ()):
    """The split as a pandas DataFrame; a missing column names the dataset, config and split."""
    import tempfile

    from datasets import load_dataset

    from debiaslab.io import DataError

    with tempfile.TemporaryDirectory(prefix="debiaslab-datasets-") as cache:
        options = {"cache_dir": cache} if Path(path).exists() else {}
        with dataset_errors(path):
            dataset = load_dataset(path, name, split=split, **options)
        missing = sorted(set(required) - set(dataset.column_names))
        if missing:
            raise DataError(f"{path} [{name}/{split}]: missing column(s) {missing}; found {dataset.column_names}")
        return dataset.to_pandas()
