"""`occupations`' results table and its per-occupation figure, from the score store only."""

from __future__ import annotations

from debiaslab.aggregate.tables import Table, TableSpec, experiment_spec

METRICS = {
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


def table(settings: dict, baseline: dict) -> Table:
    return Table(
        "occupations",
        (
            experiment_spec(
                "occupations",
                settings,
                1,
                ranges={"unique_pairs": (0.0, 100.0)},
                metrics=METRICS,
                scale=100.0,
                scaled=RATES,
                baseline=baseline,
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


def per_occupation_spec(settings: dict, baseline: dict) -> TableSpec:
    """The table's spec narrowed to the AND rate per occupation (the figure's bars)."""
    from dataclasses import replace

    spec = table(settings, baseline).sections[0]
    return replace(
        spec,
        metrics={"and_balanced_rate": spec.metrics["and_balanced_rate"]},
        subset=None,
        baseline={},
        row_keys=("model", "method", "split", "subset"),
        prepare=lambda f: f[f["subset"] != "all"],
    )


def per_occupation(scores, settings: dict, baseline: dict, out_png, out_pdf) -> None:
    """AND-balance rate per occupation (train occupations, then held-out), one bar per method: the mean over
    seeds with the tables' interval as error bars (`per_occupation_caption` says which)."""
    import numpy as np

    from debiaslab.aggregate.plotting import pyplot, save
    from debiaslab.aggregate.tables import shown_interval_name, summary, with_shown_interval

    plt = pyplot()
    spec = per_occupation_spec(settings, baseline)
    long = with_shown_interval(summary(scores, spec))
    long["bar"] = [
        m if long["model"].nunique() == 1 else f"{model} {m}" for model, m in zip(long["model"], long["method"])
    ]
    bars = list(dict.fromkeys(long["bar"]))
    occupations = [
        k for split in ("train", "heldout") for k in dict.fromkeys(long.loc[long["split"] == split, "subset"])
    ]
    split_of = dict(zip(long["subset"], long["split"]))
    fig, ax = plt.subplots(figsize=(max(8, 0.5 * len(occupations)), 4.2))
    width = 0.8 / max(1, len(bars))
    x = np.arange(len(occupations))
    for i, bar in enumerate(bars):
        part = long[long["bar"] == bar].set_index("subset").reindex(occupations)
        mean = part["mean"].to_numpy(dtype=float)
        err = np.vstack([mean - part["low"].to_numpy(dtype=float), part["high"].to_numpy(dtype=float) - mean])
        ax.bar(
            x + i * width,
            mean,
            width=width,
            label=bar,
            yerr=np.nan_to_num(err),
            capsize=1.5,
            error_kw={"elinewidth": 0.6, "capthick": 0.6},
        )
    ax.set_xticks(x + 0.4 - width / 2)
    ax.set_xticklabels(
        [f"{occ}{' (held out)' if split_of[occ] == 'heldout' else ''}" for occ in occupations],
        rotation=60,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("AND-balanced completions (%)")
    ax.set_ylim(0, 105)
    ax.set_title(
        f"Occupations: AND-balance rate per occupation, mean over seeds\n"
        f"(error bars: {shown_interval_name(long, spec)})",
        fontsize=10,
    )
    # outside the axes: a legend inside would cover the 100 % bars
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    save(fig, out_png, out_pdf)
    plt.close(fig)


def per_occupation_caption(settings: dict, baseline: dict) -> str:
    from debiaslab.aggregate.tables import interval_words

    return (
        "AND-balance rate per occupation (train occupations, then held-out), one bar per method: mean over "
        "seeds; error bars = "
        + interval_words(per_occupation_spec(settings, baseline), "and_balanced_rate")
        + ", as in the occupations table. Computed from the score store only."
    )
