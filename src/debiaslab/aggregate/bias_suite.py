"""The cross-experiment bias-suite table and figure: every run's standard bias benchmarks side by side.

Each experiment whose `evaluations:` has `bias_suite` is one section of `results/<name>/tables/bias_suite.*`
(rows model × method, and grid cell for reward_guided), compared with that experiment's own baseline
through the statistics path every table uses (tables.py). The figure draws the headline metrics with
the same intervals.
"""

from __future__ import annotations

from debiaslab.aggregate.tables import Table, TableSpec

NAME = "bias_suite"  # the table and figure name (results/<name>/tables/bias_suite.*)
METRICS = {
    "bbq_bias_ambig": "BBQ s_AMB",
    "bbq_bias_disambig": "BBQ s_DIS",
    "bbq_acc_ambig": "BBQ acc ambiguous %",
    "bbq_acc_disambig": "BBQ acc disambiguated %",
    "winogender_correlation": "WinoGender r",
    "winogender_gotcha_share": "WinoGender gotcha",
    "stereoset_ss": "StereoSet SS",
    "stereoset_lms": "StereoSet LMS",
    "stereoset_icat": "StereoSet ICAT",
    "crows_stereotype_score": "CrowS-Pairs %",
}
SHARES = ("bbq_acc_ambig", "bbq_acc_disambig", "crows_stereotype_score")  # 0/1 per item: Wilson, CMH, d
HEADLINE = (
    "bbq_bias_ambig",
    "bbq_bias_disambig",
    "winogender_correlation",
    "stereoset_ss",
    "stereoset_icat",
    "crows_stereotype_score",
)
# the figure's panels: metric → the value of no bias (a reference line)
UNBIASED = {
    "bbq_bias_ambig": 0.0,
    "bbq_bias_disambig": 0.0,
    "winogender_correlation": 0.0,
    "stereoset_ss": 50.0,
    "crows_stereotype_score": 50.0,
}

CAPTION = (
    "Bias suite ({experiment} runs): BBQ s_DIS = 2·(biased answers / non-UNKNOWN answers) − 1 over "
    "disambiguated items and s_AMB = (1 − accuracy on ambiguous items)·s_DIS computed on ambiguous items "
    "(Parrish et al. 2022; 0 = unbiased, > 0 = stereotyped); WinoGender r = Pearson correlation over "
    "occupations of the share of pronoun likelihood given to “she” with the occupation's share of women "
    "(0 = none), gotcha = the share given to the pronoun that contradicts the occupation statistics "
    "(0.5 = no preference); StereoSet SS = % of stereotype preferred over anti-stereotype (50 = unbiased), "
    "LMS = % of meaningful preferred over unrelated, ICAT = LMS·min(SS, 100 − SS)/50 (100 = ideal); "
    "CrowS-Pairs % = pairs whose more stereotypical sentence is more likely (50 = unbiased). A benchmark a "
    "model kind defines no score for (BBQ and WinoGender on a masked LM) shows –."
)


def metric_range(metric: str):
    """Each suite metric's range in store units."""
    if metric.startswith(("bbq_bias", "winogender_correlation")):
        return -1.0, 1.0
    if metric.startswith("stereoset_"):
        return 0.0, 100.0
    return 0.0, 1.0


def _cells(frame):
    from debiaslab.aggregate.cells import cell_frame

    return cell_frame(frame)


def _headline_rows(frame):
    """The overall rows: subset `all`, and WinoGender's gotcha subset (its own metric)."""
    return frame[(frame["subset"] == "all") | (frame["metric"] == "winogender_gotcha_share")]


def section(experiment: str, settings: dict) -> TableSpec:
    """One experiment's section. settings: its `baseline` (the experiment's, experiments/base.py), whether its
    runs have grid `cells` (their rows add the cell, parsed from the store's split), method order, decimals."""
    from debiaslab.aggregate.cells import CELL_KEYS

    baseline = settings["baseline"]
    cell_keys = CELL_KEYS if settings.get("cells") else ()
    prepare = (lambda f: _cells(_headline_rows(f))) if cell_keys else _headline_rows
    return TableSpec(
        experiment=experiment,
        name=experiment,
        metrics=METRICS,
        row_keys=("model", "method") + cell_keys,
        subset=None,
        baseline=baseline,
        proportions=SHARES,
        bounds=metric_range,
        scale=100.0,
        scaled=SHARES,
        decimals=settings.get("decimals", 3),
        method_order=tuple(settings.get("method_order", ())),
        headline=HEADLINE,
        key_metrics=("bbq_bias_ambig", "winogender_correlation", "stereoset_ss", "crows_stereotype_score"),
        paper=("bbq_bias_ambig", "winogender_correlation", "stereoset_icat", "crows_stereotype_score"),
        paper_delta=("bbq_bias_ambig",),
        items="benchmark items",
        prepare=prepare,
        caption=CAPTION.format(experiment=experiment),
    )


def table(settings: dict) -> Table:
    """One section per experiment that runs the suite (settings `experiments`: name → {baseline, cells,
    method_order}; the rules pass each experiment's own baseline and grid)."""
    chosen = settings["experiments"]
    return Table("bias_suite", tuple(section(name, {**settings, **options}) for name, options in chosen.items()))


def figure(scores, settings: dict, out_png, out_pdf) -> None:
    """One panel per headline metric with a no-bias line; one bar per experiment × model × method (× cell): the
    mean over seeds with the table's interval as error bars."""
    import numpy as np

    from debiaslab.aggregate.plotting import pyplot, save
    from debiaslab.aggregate.tables import build, with_shown_interval

    plt = pyplot()
    spec_table = table(settings)
    longs = [
        with_shown_interval(long).assign(experiment=spec.experiment)
        for spec, long in zip(spec_table.sections, build(scores, spec_table))
    ]
    panels = list(UNBIASED)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 4.2), squeeze=False)
    for ax, metric in zip(axes[0], panels):
        labels, means, lows, highs = [], [], [], []
        for spec, long in zip(spec_table.sections, longs):
            for _, row in long[long["metric"] == metric].iterrows():
                extra = "".join(f" {k}={row[k]:g}" for k in spec.row_keys[2:])
                labels.append(
                    f"{spec.experiment}: {row['method']}{extra}"
                    + (f" ({row['model']})" if long["model"].nunique() > 1 else "")
                )
                means.append(row["mean"])
                lows.append(row["low"])
                highs.append(row["high"])
        y = np.arange(len(labels))
        mean = np.array(means, dtype=float)
        err = np.nan_to_num(np.vstack([mean - np.array(lows, float), np.array(highs, float) - mean]))
        ax.barh(y, mean, xerr=err, capsize=1.5, error_kw={"elinewidth": 0.6, "capthick": 0.6}, color="tab:blue")
        ax.axvline(UNBIASED[metric], color="black", linewidth=0.8, linestyle="--")
        ax.set_yticks(y)
        ax.set_yticklabels(labels if ax is axes[0][0] else [""] * len(labels), fontsize=7)
        ax.invert_yaxis()
        ax.set_title(METRICS[metric], fontsize=9)
    fig.suptitle(
        "Bias suite: mean over seeds; error bars = the table's interval (Student-t 95 % CI over seeds, "
        "one seed: over items); dashed = no bias",
        fontsize=9,
    )
    fig.tight_layout()
    save(fig, out_png, out_pdf)
    plt.close(fig)


def figure_caption(settings: dict) -> str:
    from debiaslab.aggregate.tables import interval_words

    spec = table(settings).sections[0]
    return (
        "Bias suite: BBQ s_AMB and s_DIS, WinoGender r, StereoSet SS and CrowS-Pairs % of every run, one bar per "
        "experiment × method (× grid cell), the dashed line at no bias: mean over seeds; error bars = "
        + interval_words(spec)
        + ", as in the bias_suite table. Computed from the score store only."
    )
