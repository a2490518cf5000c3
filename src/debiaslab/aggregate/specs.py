"""What each experiment's results table shows (metric → column label, units)."""

from __future__ import annotations

from debiaslab.aggregate.tables import TableSpec

BALANCE_METRICS = {
    "and_balanced_rate": "AND %",
    "or_any_rate": "OR %",
    "agentic_only_rate": "agentic-only %",
    "communal_only_rate": "communal-only %",
    "neither_rate": "neither %",
    "length_compliant_rate": "8–15 words %",
}

RM_FORGET_METRICS = {
    "rmbench_hard": "RM-Bench hard %",
    "rmbench_normal": "RM-Bench normal %",
    "rmbench_easy": "RM-Bench easy %",
    "rmbench_mean": "RM-Bench mean %",
    "pair_acc_style": "style pairs %",
    "pair_acc_correctness": "correctness pairs %",
    "pair_acc_cross": "cross pairs %",
}


def table_spec(experiment: str, settings: dict) -> TableSpec:
    """The TableSpec for `experiment`, from its `table` config slice plus method order."""
    if experiment == "occupations":
        return TableSpec(
            experiment="occupations",
            metrics=BALANCE_METRICS,
            scale=100.0,
            decimals=settings.get("decimals", 1),
            method_order=tuple(settings.get("method_order", ())),
            caption=("Occupations: % of completions with an agentic AND a communal term (AND), either (OR), "
                     "only one class, neither, and 8–15 words; split = train or held-out occupations."),
        )
    if experiment == "rm_forget":
        return TableSpec(
            experiment="rm_forget",
            metrics=RM_FORGET_METRICS,
            row_keys=("model", "method", "lambda"),  # λ: a row key made from the sweep's subsets
            scale=100.0,
            decimals=settings.get("decimals", 1),
            method_order=tuple(settings.get("method_order", ())),
            caption=("rm_forget: the base reward model minus λ × a forget-LoRA fitted to the reversed preference of "
                     "one pair mode (method = forget_<mode>; λ = 0 is the base model). RM-Bench accuracy on held-out "
                     "questions (hard: chosen less styled than rejected; normal: same style; easy: chosen more "
                     "styled; mean of the three) and pairwise accuracy on each mode's held-out pairs."),
        )
    raise KeyError(f"no table is defined for experiment {experiment!r}")
