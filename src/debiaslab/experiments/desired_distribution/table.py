"""`desired_distribution`'s table: the store's detection and utility rows reshaped for tables.py.

The bias section compares every mitigated run with the model's `base` run on the KL to the
method's own target distribution (kl_equal → equal, kl_real_world → real_world): `bias_rows`
gives each row a `target` and the metric `kl` (the store's kl_<target>_mean), and repeats the
base's rows once per target in use. Its rows are model × method × target × split × prof_gender
category (`subset`). The utility section is every evaluation row of the runs (perplexity / MLM
loss on an external corpus, GLUE, ...; subset "all"). In both, the base is scored once, at the
first seed (it does not depend on the seed), and every seed of a method is compared with it.
"""

from __future__ import annotations

from debiaslab.aggregate.tables import Table, experiment_spec

METRICS = {"kl": "KL to target", "p_male_mean": "mean P(male)"}
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


def table(settings: dict, baseline: dict) -> Table:
    common = dict(baseline=baseline, baseline_once=True, relative_change=True, ranges={"p_male_mean": (0.0, 1.0)})
    splits = tuple(settings.get("splits", ["test"]))
    return Table(
        "desired_distribution",
        (
            experiment_spec(
                "desired_distribution",
                settings,
                3,
                **common,
                name="bias",
                metrics=METRICS,
                row_keys=("model", "method", "target", "split", "subset"),
                subset=None,
                compared=("kl",),
                key_metrics=("kl",),
                paper=("kl",),
                items="occupations",
                prepare=lambda scores: bias_rows(scores, splits),
                caption=(
                    "Desired distribution: KL(desired ‖ model) in nats — the true KL; the source's batchmean "
                    "values are half of it — averaged over the occupations of a split, by prof_gender category, "
                    "before (the base model, scored once: it does not depend on the seed) and after mitigation "
                    "toward the method's target (equal = [0.5, 0.5]; real_world = BLS 2024 shares); a negative "
                    "change % is a reduction."
                ),
            ),
            experiment_spec(
                "desired_distribution",
                settings,
                3,
                **common,
                name="utility",
                metrics=None,
                row_keys=("model", "method", "split"),
                subset=None,
                key_metrics=None,
                items="texts or examples",
                prepare=utility_rows,
                caption=(
                    "Utility (the experiment's evaluations): perplexity (causal LMs: token-weighted), "
                    "pseudo-perplexity and MLM loss (15 % of tokens masked, the same masks before and after) — "
                    "lower is better; GLUE / MMLU scores — higher is better; split = the evaluation's data split "
                    "(the corpus)."
                ),
            ),
        ),
    )
