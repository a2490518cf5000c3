"""The `desired_distribution` table's rows: the store's detection and utility rows reshaped for tables.py.

The bias section compares every mitigated run with the model's `base` run on the KL to the
method's own target distribution (kl_equal → equal, kl_real_world → real_world): `bias_rows`
gives each row a `target` and the metric `kl` (the store's kl_<target>_mean), and repeats the
base's rows once per target in use. Its rows are model × method × target × split × prof_gender
category (`subset`). The utility section is every evaluation row of the runs (perplexity / MLM
loss on an external corpus, GLUE, ...; subset "all"). In both, the base is scored once, at the
first seed (it does not depend on the seed), and every seed of a method is compared with it.
"""

from __future__ import annotations

TARGET = {"kl_equal": "equal", "kl_real_world": "real_world"}
CATEGORIES = ("all", "male_dominated", "balanced", "female_dominated")
DETECTION_PREFIXES = ("kl_", "p_male")  # the scoring job's metrics; every other metric is utility


def bias_rows(scores, splits):
    """Detection rows with `target` and metric `kl` (KL to the target) or `p_male_mean`, for `splits`."""
    import pandas as pd

    from debiaslab.core.config import ConfigError

    scores = scores[scores["split"].isin(list(splits)) & scores["subset"].isin(CATEGORIES)]
    methods = [m for m in dict.fromkeys(scores["method"]) if m != "base"]
    unknown = [m for m in methods if m not in TARGET]
    if unknown:
        raise ConfigError(f"desired_distribution table: method {unknown[0]!r} has no target; known {sorted(TARGET)}")
    parts = []
    for target in dict.fromkeys(TARGET[m] for m in methods):
        runs = scores[scores["method"].isin(["base"] + [m for m in methods if TARGET[m] == target])]
        kl = runs[runs["metric"] == f"kl_{target}_mean"].assign(metric="kl")
        parts.append(pd.concat([kl, runs[runs["metric"] == "p_male_mean"]]).assign(target=target))
    frame = pd.concat(parts, ignore_index=True) if parts else scores.iloc[:0].assign(target=[])
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    return frame.sort_values("subset", key=lambda s: s.map(rank), kind="stable")


def utility_rows(scores):
    """Every evaluation row of subset "all" (perplexity, not its log: the *_nll_per_token rows are left out)."""
    return scores[
        (scores["subset"] == "all")
        & ~scores["metric"].str.startswith(DETECTION_PREFIXES)
        & ~scores["metric"].str.endswith("nll_per_token")
    ]
