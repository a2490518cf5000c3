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


REWARD_GUIDED_METRICS = {
    "genbit_score": "GenBit score",
    "avg_bias_ratio": "avg bias ratio",
    "mean_bias": "mean |bias|",
    "gendered_pronoun_rate": "gendered pronoun",
    "neutral_option_rate": "neutral option",
    "stereotyped_option_rate": "stereotyped option",
    "kl_to_base": "KL to base",
    "mean_reward": "mean reward",
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
    if experiment == "reward_guided":
        return TableSpec(
            experiment="reward_guided",
            metrics=REWARD_GUIDED_METRICS,
            row_keys=("model", "method", "split"),  # split = grid cell "n=<size>,T=<temperature>" (n=0: base)
            decimals=settings.get("decimals", 3),
            method_order=tuple(settings.get("method_order", ())),
            caption=("reward_guided: held-out MCQ prompts, one response each. GenBit score and avg bias ratio over "
                     "the cell's responses as one corpus; mean |bias| = per-response |avg_bias_ratio| (the reward's "
                     "term); rates are shares of responses (gendered pronoun: he/she/him/her/...; option: the first "
                     "option named); KL to base: token-wise KL(policy‖base) over generated positions; mean reward "
                     "= −(|bias| + 0.1·KL). n = training prompts (0: the base model), T = sampling temperature."),
        )
    raise KeyError(f"no table is defined for experiment {experiment!r}")
