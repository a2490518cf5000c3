"""`reward_guided`'s results table: one row per grid cell (model, method, dataset size n, temperature T; the
base model is n = 0), each trained cell compared with the base at the same T, paired by seed."""

from __future__ import annotations

from debiaslab.aggregate.tables import INF, Table, experiment_spec

METRICS = {
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
SHARES = ("gendered_pronoun_rate", "neutral_option_rate", "stereotyped_option_rate")


def table(settings: dict, baseline: dict) -> Table:
    from debiaslab.aggregate.cells import CELL_KEYS, cell_frame

    return Table(
        "reward_guided",
        (
            experiment_spec(
                "reward_guided",
                settings,
                3,
                ranges={"genbit_score": (0.0, INF), "mean_bias": (0.0, INF), "mean_reward": (-INF, 0.0)},
                metrics=METRICS,
                row_keys=("model", "method", *CELL_KEYS),  # grid cell from the store's split "n=<size>,T=<T>"
                baseline=baseline,
                compared=("genbit_score", "mean_bias", "gendered_pronoun_rate", "neutral_option_rate", "mean_reward"),
                proportions=SHARES,
                key_metrics=("gendered_pronoun_rate", "mean_reward"),
                headline=tuple(m for m in METRICS if m != "genbit_identity_lemmatizer"),
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
