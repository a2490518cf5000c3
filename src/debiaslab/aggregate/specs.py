"""What each experiment's results table shows: metrics and labels, baseline, compared metrics, ranges, words.

Data only (plus each experiment's reshaping of its store rows, `prepare`); the statistics and the
captions' account of them are tables.py's, the same for every experiment.
"""

from __future__ import annotations

import math

from debiaslab.aggregate import bias_suite
from debiaslab.aggregate.tables import Table, TableSpec

INF = math.inf


def metric_range(metric: str) -> tuple[float, float] | None:
    """The range a metric's values (and so its intervals) live in, in store units (None: unbounded)."""
    if (
        metric.endswith(("_rate", "_acc", "_accuracy", "_f1"))
        or metric.startswith(("rmbench_", "pair_acc_", "crows_"))
        or metric in ("bias_type_score", "p_male_mean")
    ):
        return 0.0, 1.0
    if metric.endswith(("matthews_corr", "pearson", "spearman")) or metric == "glue_score":
        return -1.0, 1.0
    if metric.endswith("perplexity"):
        return 1.0, INF
    if (
        metric.endswith(("_bits", "_loss", "nll_per_token", "_var"))
        or metric.startswith("kl")
        or metric in ("genbit_score", "mean_bias", "kl_to_base")
    ):
        return 0.0, INF
    if metric == "unique_pairs":
        return 0.0, 100.0
    if metric == "mean_reward":
        return -INF, 0.0
    return None


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
    "fluency_perplexity": "fluency PPL",
}
RATES = (
    "and_balanced_rate",
    "or_any_rate",
    "agentic_only_rate",
    "communal_only_rate",
    "neither_rate",
    "length_compliant_rate",
    "filter_acceptance_rate",
)

REWARD_GUIDED_METRICS = {
    "genbit_score": "GenBit score",
    "avg_bias_ratio": "avg bias ratio",
    "mean_bias": "mean |bias|",
    "gendered_pronoun_rate": "gendered pronoun",
    "neutral_option_rate": "neutral option",
    "stereotyped_option_rate": "stereotyped option",
    "kl_to_base": "KL to base",
    "mean_reward": "mean reward",
    "genbit_identity_lemmatizer": "identity lemmatizer (1 = yes)",
}
REWARD_GUIDED_SHARES = ("gendered_pronoun_rate", "neutral_option_rate", "stereotyped_option_rate")

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

DESIRED_DISTRIBUTION_METRICS = {"kl": "KL to target", "p_male_mean": "mean P(male)"}


def _spec(experiment: str, settings: dict, decimals: int, **fields) -> TableSpec:
    """A TableSpec with what every experiment's shares: its `table` settings' decimals, the configured method
    order, and the metrics' ranges."""
    return TableSpec(
        experiment=experiment,
        decimals=settings.get("decimals", decimals),
        method_order=tuple(settings.get("method_order", ())),
        bounds=metric_range,
        **fields,
    )


def _occupations(settings: dict) -> Table:
    return Table(
        "occupations",
        (
            _spec(
                "occupations",
                settings,
                1,
                metrics=OCCUPATIONS_METRICS,
                scale=100.0,
                scaled=RATES,
                baseline={"method": "prompt_only"},
                compared=("and_balanced_rate", "length_compliant_rate", "entropy_combined_bits", "fluency_perplexity"),
                proportions=RATES,
                key_metrics=("and_balanced_rate",),
                headline=(
                    "and_balanced_rate",
                    "or_any_rate",
                    "agentic_only_rate",
                    "communal_only_rate",
                    "neither_rate",
                    "length_compliant_rate",
                    "entropy_combined_bits",
                    "unique_pairs",
                    "filter_acceptance_rate",
                    "fluency_perplexity",
                ),
                paper=("and_balanced_rate", "fluency_perplexity"),
                items="responses",
                caption=(
                    "Occupations: % of completions with an agentic AND a communal term (AND), either (OR), one class "
                    "only, neither, and 8–15 words; split = train or held-out occupations. H = Shannon entropy of term "
                    "counts; unique pairs = distinct (agentic, communal) pairs (max 100). Fluency PPL: token-weighted "
                    "perplexity of the completed sentences under the reference LM (evaluations.fluency)."
                ),
            ),
        ),
    )


def _reward_guided(settings: dict) -> Table:
    from debiaslab.aggregate.reward_guided import cell_frame

    return Table(
        "reward_guided",
        (
            _spec(
                "reward_guided",
                settings,
                3,
                metrics=REWARD_GUIDED_METRICS,
                row_keys=(
                    "model",
                    "method",
                    "size",
                    "temperature",
                ),  # grid cell from the store's split "n=<size>,T=<T>"
                baseline={"method": "base", "size": 0},
                compared=("genbit_score", "mean_bias", "gendered_pronoun_rate", "neutral_option_rate", "mean_reward"),
                proportions=REWARD_GUIDED_SHARES,
                key_metrics=("gendered_pronoun_rate", "mean_reward"),
                headline=tuple(m for m in REWARD_GUIDED_METRICS if m != "genbit_identity_lemmatizer"),
                paper=("gendered_pronoun_rate", "mean_reward"),
                paper_delta=("gendered_pronoun_rate",),
                items="responses",
                prepare=cell_frame,
                caption=(
                    "reward_guided: held-out MCQ prompts, one response each. GenBit score and avg bias ratio over the "
                    "cell's responses as one corpus; mean |bias| = per-response |avg_bias_ratio| (the reward's term); "
                    "rates are shares of responses (gendered pronoun: he/she/him/her/...; option: the first option "
                    "named); KL to base: token-wise KL(policy ‖ base) over generated positions; mean reward = "
                    "−(|bias| + 0.1 · KL). n = training prompts (0: the base model), T = sampling temperature. "
                    "One response per held-out prompt; every cell of a seed resamples the same prompts, so Δ's "
                    "bootstrap interval is paired by prompt."
                ),
            ),
        ),
    )


def _rm_forget(settings: dict) -> Table:
    from debiaslab.aggregate.rm_forget import curve_scores

    return Table(
        "rm_forget",
        (
            _spec(
                "rm_forget",
                settings,
                1,
                metrics=RM_FORGET_METRICS,
                row_keys=("model", "method", "lambda"),  # λ: a row key made from the sweep's subsets
                scale=100.0,
                baseline={"lambda": 0.0},
                compared=("rmbench_hard", "rmbench_normal", "rmbench_easy", "rmbench_mean"),
                key_metrics=("rmbench_hard",),
                paper=("rmbench_hard", "rmbench_mean"),
                items="held-out questions",
                prepare=curve_scores,
                caption=(
                    "rm_forget: the base reward model minus λ × a forget-LoRA fitted to the reversed preference of one "
                    "pair mode (method = forget_<mode>; λ = 0 is the base model). RM-Bench accuracy on held-out "
                    "questions (hard: chosen less styled than rejected; normal: same style; easy: chosen more styled; "
                    "mean of the three) and pairwise accuracy on each mode's held-out pairs. Every λ of a sweep "
                    "resamples the same questions, so Δ's bootstrap interval is paired by question."
                ),
            ),
        ),
    )


def _safety(settings: dict) -> Table:
    return Table(
        "safety",
        (
            _spec(
                "safety",
                settings,
                3,
                metrics=SAFETY_METRICS,
                baseline={"method": "base"},
                key_metrics=("rm_score", "bias_type_score"),
                paper=("rm_score", "bias_type_score"),
                paper_delta=("rm_score",),
                items="responses",
                caption=(
                    "Safety: mean reward-model score (logit on prompt + response) and mean bias-classifier probability "
                    "of the prompt's bias type, per response; split = bias prompt set."
                ),
            ),
        ),
    )


def _desired_distribution(settings: dict) -> Table:
    from debiaslab.aggregate.desired_distribution import bias_rows, utility_rows

    common = dict(baseline={"method": "base"}, baseline_once=True, relative_change=True)
    splits = tuple(settings.get("splits", ["test"]))
    return Table(
        "desired_distribution",
        (
            _spec(
                "desired_distribution",
                settings,
                3,
                **common,
                name="bias",
                metrics=DESIRED_DISTRIBUTION_METRICS,
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
            _spec(
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


TABLES = {
    "occupations": _occupations,
    "reward_guided": _reward_guided,
    "rm_forget": _rm_forget,
    "safety": _safety,
    "desired_distribution": _desired_distribution,
    "bias_suite": bias_suite.table,
}


def table_spec(experiment: str, settings: dict) -> Table:
    """The Table for `experiment`, from its `table` config slice plus method order."""
    if experiment not in TABLES:
        from debiaslab.core.config import ConfigError

        raise ConfigError(f"no table is defined for experiment {experiment!r}; known: {', '.join(sorted(TABLES))}")
    return TABLES[experiment](settings)
