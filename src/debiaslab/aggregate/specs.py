"""What each experiment's results table shows (metric → column label, units)."""

from __future__ import annotations

from debiaslab.aggregate.tables import TableSpec

OCCUPATIONS_METRICS = {
    "and_balanced_rate": "AND %",
    "or_any_rate": "OR %",
    "agentic_only_rate": "agentic-only %",
    "communal_only_rate": "communal-only %",
    "neither_rate": "neither %",
    "length_compliant_rate": "8–15 words %",
    "entropy_agentic_bits": "H agentic (bits)",
    "entropy_communal_bits": "H communal (bits)",
    "entropy_combined_bits": "H combined (bits)",
    "unique_pairs": "unique pairs",
    "filter_acceptance_rate": "filter accepted %",
    "and_balanced_ci_low": "AND bootstrap CI low %",
    "and_balanced_ci_high": "AND bootstrap CI high %",
    "and_balanced_mwu_p": "AND MWU p",
    "and_balanced_cohens_d": "AND Cohen's d",
    "fluency_perplexity": "fluency PPL",
}
RATES = ("and_balanced_rate", "or_any_rate", "agentic_only_rate", "communal_only_rate", "neither_rate",
         "length_compliant_rate", "filter_acceptance_rate", "and_balanced_ci_low", "and_balanced_ci_high")


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

RM_FORGET_METRICS = {
    "rmbench_hard": "RM-Bench hard %",
    "rmbench_normal": "RM-Bench normal %",
    "rmbench_easy": "RM-Bench easy %",
    "rmbench_mean": "RM-Bench mean %",
    "pair_acc_style": "style pairs %",
    "pair_acc_correctness": "correctness pairs %",
    "pair_acc_cross": "cross pairs %",
}

# `safety`: one row per model × method × bias type (the store's `split` holds the bias type).
SAFETY_METRICS = {"rm_score": "RM score", "bias_type_score": "bias score"}


def table_spec(experiment: str, settings: dict) -> TableSpec:
    """The TableSpec for `experiment`, from its `table` config slice plus method order."""
    if experiment == "occupations":
        return TableSpec(
            experiment="occupations",
            metrics=OCCUPATIONS_METRICS,
            scale=100.0,
            scaled=RATES,
            decimals=settings.get("decimals", 1),
            method_order=tuple(settings.get("method_order", ())),
            baseline_method="prompt_only",
            key_metrics=("and_balanced_rate",),
            markdown_metrics=("and_balanced_rate", "or_any_rate", "agentic_only_rate", "communal_only_rate",
                              "neither_rate", "length_compliant_rate", "entropy_combined_bits", "unique_pairs",
                              "filter_acceptance_rate", "and_balanced_cohens_d", "fluency_perplexity"),
            caption=("Occupations: % of completions with an agentic AND a communal term (AND), either (OR), "
                     "one class only, neither, and 8–15 words; split = train or held-out occupations. "
                     "H = Shannon entropy of term counts; unique pairs = distinct (agentic, communal) pairs (max 100). "
                     "Per seed, against prompt-only: bootstrap 95% CI of the AND rate (1,000 resamples of responses), "
                     "Mann–Whitney U p and Cohen's d of the AND indicator; shown as means over seeds. "
                     "Fluency PPL: token-weighted perplexity of the completed sentences under the reference LM "
                     "(evaluations.fluency)."),
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
