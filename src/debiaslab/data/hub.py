"""Read one split of a dataset by Hub name or Hub-format folder, through `datasets.load_dataset`.

The same call reads `cais/mmlu`, `nyu-mll/glue` or `openai/gsm8k` and the testbed's folders in
their layout. `datasets` caches a local folder under its *folder name* and reuses that cache even
after the files change (or for another folder of the same name), so local folders are read with a
fresh, temporary cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


def load_split(path: str, name: str | None, split: str, *, required: Iterable[str] = ()):
    """The split as a pandas DataFrame; a missing column names the dataset, config and split."""
    import tempfile

    from datasets import load_dataset

    from debiaslab.io import DataError

    with tempfile.TemporaryDirectory(prefix="debiaslab-datasets-") as cache:
        options = {"cache_dir": cache} if Path(path).exists() else {}
        dataset = load_dataset(path, name, split=split, **options)
        missing = sorted(set(required) - set(dataset.column_names))
        if missing:
            raise DataError(f"{path} [{name}/{split}]: missing column(s) {missing}; found {dataset.column_names}")
        return dataset.to_pandas()
