"""Figures (matplotlib, PNG + PDF) computed from the score store only, with the tables' intervals.

Error bars and bands are the interval the tables show for the same cells (tables.shown_interval);
`figure_caption` says which, in words generated from the same spec.
"""

from __future__ import annotations


def occupations_spec(settings: dict):
    """The occupations table's spec narrowed to the AND rate per occupation (the figure's bars)."""
    from dataclasses import replace

    from debiaslab.aggregate.specs import table_spec

    spec = table_spec("occupations", settings).sections[0]
    return replace(
        spec,
        metrics={"and_balanced_rate": spec.metrics["and_balanced_rate"]},
        subset=None,
        baseline={},
        row_keys=("model", "method", "split", "subset"),
        prepare=lambda f: f[f["subset"] != "all"],
    )


def occupations_per_occupation(scores, settings: dict, out_png, out_pdf) -> None:
    """AND-balance rate per occupation (train occupations, then held-out), one bar per method: the mean over
    seeds with the tables' interval as error bars (`figure_caption` says which)."""
    import numpy as np

    from debiaslab.aggregate.plotting import pyplot, save
    from debiaslab.aggregate.tables import shown_interval_name, summary, with_shown_interval

    plt = pyplot()
    spec = occupations_spec(settings)
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


def rm_forget_lambda_curve(scores, settings: dict, out_png, out_pdf) -> None:
    """RM-Bench hard/normal/easy and pair accuracy against λ, per forget mode (aggregate/rm_forget.py)."""
    from debiaslab.aggregate.rm_forget import write_curve_figure
    from debiaslab.aggregate.specs import table_spec

    write_curve_figure(scores, table_spec("rm_forget", settings).sections[0], out_png, out_pdf)


def figure_caption(name: str, settings: dict) -> str:
    """What a figure shows and which interval its error bars or bands are — from the same specs as the tables."""
    from debiaslab.aggregate.specs import table_spec
    from debiaslab.aggregate.tables import interval_words

    if name == "occupations_per_occupation":
        return (
            "AND-balance rate per occupation (train occupations, then held-out), one bar per method: mean over "
            "seeds; error bars = "
            + interval_words(occupations_spec(settings), "and_balanced_rate")
            + ", as in the occupations table. Computed from the score store only."
        )
    if name == "rm_forget_lambda_curve":
        spec = table_spec("rm_forget", settings).sections[0]
        return (
            "RM-Bench hard/normal/easy/mean accuracy and the mode's own pair accuracy (dashed) against λ, one "
            "panel per forget mode: mean over seeds; band = "
            + interval_words(spec)
            + ", as in the rm_forget table. Computed from the score store only."
        )
    if name == "reward_guided_training_curves":
        from debiaslab.aggregate.reward_guided import CURVE_PANELS

        return (
            "reward_guided training curves: " + ", ".join(title for _, title in CURVE_PANELS) + " per step, "
            "read from each run's adapter/training_metrics.csv (not the score store); one line per grid cell "
            "(model, method, n, T): mean over seeds, band = min–max over seeds."
        )
    if name == "bias_suite":
        from debiaslab.aggregate.bias_suite import figure_caption as suite_caption

        return suite_caption(settings)
    from debiaslab.core.config import ConfigError

    raise ConfigError(f"no caption for figure {name!r}")


def bias_suite(scores, settings: dict, out_png, out_pdf) -> None:
    """The bias suite's headline metrics of every run (aggregate/bias_suite.py)."""
    from debiaslab.aggregate.bias_suite import figure

    figure(scores, settings, out_png, out_pdf)


FIGURES = {
    "occupations_per_occupation": occupations_per_occupation,
    "rm_forget_lambda_curve": rm_forget_lambda_curve,
    "bias_suite": bias_suite,
}
