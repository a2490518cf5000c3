"""The tidy score store: one long-format Parquet file per scoring job.

Every scoring and evaluation job writes rows of (experiment, model, method, seed,
split, subset, metric, value, n) plus provenance (the fingerprint of the config
slice that produced them and the code version), and beside each value its bootstrap
`replicates`: the metric recomputed on B seeded resamples of the job's items
(core.statistics.Bootstrap; an empty list where a value has none, e.g. a flag).
Tables and figures are computed from these files only, so a reviewer can rebuild any
table — its intervals over items included — from the store alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IDENTITY = ("experiment", "model", "method", "seed")
COLUMNS = IDENTITY + ("split", "subset", "metric", "value", "n", "replicates", "config_fingerprint", "code_version")


@dataclass(frozen=True)
class RunId:
    """Which run a score belongs to; the path wildcards of the job that computed it."""

    experiment: str
    model: str
    method: str
    seed: int


def score_rows(run: RunId, values: Iterable[dict[str, Any]], settings: Any) -> Any:
    """A score-store frame from dicts of {split, subset, metric, value, n[, replicates]}."""
    import pandas as pd

    from debiaslab.core.provenance import code_version, config_fingerprint

    frame = pd.DataFrame(list(values), columns=["split", "subset", "metric", "value", "n", "replicates"])
    frame["value"] = frame["value"].astype("float64")
    frame["n"] = frame["n"].astype("int64")
    frame["replicates"] = [
        [] if r is None or (isinstance(r, float) and r != r) else [float(x) for x in r] for r in frame["replicates"]
    ]
    for key in IDENTITY:
        frame[key] = getattr(run, key)
    frame["seed"] = frame["seed"].astype("int64")
    frame["config_fingerprint"] = config_fingerprint(settings)
    frame["code_version"] = code_version()
    frame = frame[list(COLUMNS)].sort_values(["split", "subset", "metric"], kind="stable").reset_index(drop=True)
    return frame


def write_scores(path: str | Path, frame) -> None:
    from debiaslab.core.io import write_parquet

    check(frame, path)
    write_parquet(path, frame)


def check(frame, where) -> None:
    from debiaslab.core.io import DataError, require_columns

    require_columns(frame, COLUMNS, where)
    bad = frame["value"].isna() & ~frame["metric"].str.endswith("_optional")
    if bad.any():
        row = int(bad.idxmax())
        raise DataError(f"{where}: row {row}: metric {frame.loc[row, 'metric']!r} has no value")


def read_scores(paths: Iterable[str | Path]):
    """Concatenate score files, checking each has the store's columns."""
    import pandas as pd

    from debiaslab.core.io import read_parquet

    frames = []
    for path in paths:
        frame = read_parquet(path)
        check(frame, path)
        frames.append(frame)
    if not frames:
        from debiaslab.core.io import DataError

        raise DataError("no score files given")
    return pd.concat(frames, ignore_index=True)


# Keys that carry a grid coordinate: a reward_guided cell (dataset size n, temperature T) is a row's
# `split`; an rm_forget λ is a row's `subset`. Scorers write them, rules and tables read them back.


def cell_label(size: int, temperature: float) -> str:
    """The score store's `split` for a grid cell: dataset size n (0 = untrained) and temperature T."""
    return f"n={size},T={temperature:g}"


def parse_cell_label(label: str) -> tuple[int, float]:
    parts = dict(p.split("=", 1) for p in label.split(","))
    return int(parts["n"]), float(parts["T"])


def lambda_subset(lam: float) -> str:
    return f"lambda={float(lam):g}"


def parse_lambda(subset: str) -> float:
    if not subset.startswith("lambda="):
        raise ValueError(f"not a λ subset: {subset!r}")
    return float(subset.split("=", 1)[1])
