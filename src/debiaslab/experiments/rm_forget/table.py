"""`rm_forget`'s table and λ-curve figure from the score store.

Every λ of a sweep is stored as its own subset (`lambda=<λ>`), while a TableSpec shows
one subset; `curve_scores` (the spec's `prepare`) moves λ into a numeric row key
so the shared table code gives one row per (model, method, λ), compared with λ = 0.
"""

from __future__ import annotations

from debiaslab.aggregate.tables import Table, experiment_spec

METRICS = {
    "rmbench_hard": "RM-Bench hard %",
    "rmbench_normal": "RM-Bench normal %",
    "rmbench_easy": "RM-Bench easy %",
    "rmbench_mean": "RM-Bench mean %",
    "pair_acc_style": "style pairs %",
    "pair_acc_correctness": "correctness pairs %",
    "pair_acc_cross": "cross pairs %",
}
FIGURE_METRICS = ("rmbench_hard", "rmbench_normal", "rmbench_easy", "rmbench_mean")


def curve_scores(scores):
    """Score rows with λ as a numeric `lambda` column (sorted by λ) and subset `all`."""
    from debiaslab.core.store import parse_lambda

    frame = scores[(scores["experiment"] == "rm_forget") & scores["subset"].str.startswith("lambda=")].copy()
    frame["lambda"] = frame["subset"].map(parse_lambda)
    frame["subset"] = "all"
    return frame.sort_values(["lambda"], kind="stable").reset_index(drop=True)


def table(settings: dict, baseline: dict) -> Table:
    return Table(
        "rm_forget",
        (
            experiment_spec(
                "rm_forget",
                settings,
                1,
                metrics=METRICS,
                row_keys=("model", "method", "lambda"),  # λ: a row key made from the sweep's subsets
                scale=100.0,
                baseline=baseline,
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


def lambda_curve(scores, settings: dict, baseline: dict, png_out, pdf_out) -> None:
    """One panel per (model, method): RM-Bench accuracies and the mode's own pair accuracy against λ; band = the
    rm_forget table's interval (`lambda_curve_caption`)."""
    from debiaslab.aggregate.plotting import pyplot, save
    from debiaslab.aggregate.tables import shown_interval_name, summary, with_shown_interval

    spec = table(settings, baseline).sections[0]
    plt = pyplot()
    long = with_shown_interval(summary(scores, spec))
    panels = list(dict.fromkeys(zip(long["model"], long["method"])))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), sharey=True, squeeze=False)
    for ax, (model, method) in zip(axes[0], panels):
        part = long[(long["model"] == model) & (long["method"] == method)]
        own = f"pair_acc_{method.removeprefix('forget_')}"
        for metric in FIGURE_METRICS + ((own,) if own in spec.metrics else ()):
            line = part[part["metric"] == metric].sort_values("lambda")
            if line.empty:
                continue
            label = spec.metrics[metric]
            (drawn,) = ax.plot(
                line["lambda"],
                line["mean"],
                "--" if metric == own else "-",
                marker="o",
                markersize=3,
                label="pair accuracy of this mode" if metric == own else label.replace(" %", ""),
            )
            ax.fill_between(line["lambda"], line["low"], line["high"], alpha=0.15, color=drawn.get_color(), lw=0)
        ax.axvline(0.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(f"{model} − λ·{method}", fontsize=9)
        ax.set_xlabel("λ (subtracted)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"accuracy % (mean over seeds;\nband: {shown_interval_name(long, spec)})", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save(fig, png_out, pdf_out)
    plt.close(fig)


def lambda_curve_caption(settings: dict, baseline: dict) -> str:
    from debiaslab.aggregate.tables import interval_words

    spec = table(settings, baseline).sections[0]
    return (
        "RM-Bench hard/normal/easy/mean accuracy and the mode's own pair accuracy (dashed) against λ, one "
        "panel per forget mode: mean over seeds; band = "
        + interval_words(spec)
        + ", as in the rm_forget table. Computed from the score store only."
    )
