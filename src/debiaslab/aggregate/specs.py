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

# `safety`: one row per model × method × bias type (the store's `split` holds the bias type).
SAFETY_METRICS = {"rm_score": "RM score", "bias_type_score": "bias score"}


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
    if experiment == "safety":
        return TableSpec(
            experiment="safety",
            metrics=SAFETY_METRICS,
            decimals=settings.get("decimals", 3),
            method_order=tuple(settings.get("method_order", ())),
            caption=("Safety: mean reward-model score (logit on prompt + response) and mean bias-classifier "
                     "probability of the prompt's bias type, per response; split = bias prompt set."),
        )
    raise KeyError(f"no table is defined for experiment {experiment!r}")
