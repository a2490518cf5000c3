"""Figures (matplotlib, PNG + PDF) computed from the score store only."""

from __future__ import annotations

from pathlib import Path


def _save(fig, out_png, out_pdf) -> None:
    from debiaslab.io import atomic_path

    for path in (out_png, out_pdf):
        with atomic_path(path) as tmp:
            # metadata without dates keeps the files byte-identical across runs
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), bbox_inches="tight", dpi=150,
                        metadata={"CreationDate": None} if str(path).endswith(".pdf") else {"Software": None})


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def occupations_per_occupation(scores, settings: dict, out_png, out_pdf) -> None:
    """AND-balance rate per occupation (train occupations, then held-out), one bar per method; mean over seeds."""
    plt = _pyplot()
    frame = scores[(scores["experiment"] == "occupations") & (scores["metric"] == "and_balanced_rate")
                   & (scores["subset"] != "all")]
    table = frame.groupby(["split", "subset", "method"])["value"].mean().unstack("method") * 100
    order = [m for m in settings.get("method_order", []) if m in table.columns] or list(table.columns)
    table = table[order]
    splits = [s for s in ("train", "heldout") if s in table.index.get_level_values(0)]
    table = table.loc[splits]
    fig, ax = plt.subplots(figsize=(max(8, 0.5 * len(table)), 4))
    width = 0.8 / max(1, len(order))
    x = range(len(table))
    for i, method in enumerate(order):
        ax.bar([v + i * width for v in x], table[method].values, width=width, label=method)
    ax.set_xticks([v + 0.4 - width / 2 for v in x])
    ax.set_xticklabels([f"{occ}{' (held out)' if split == 'heldout' else ''}" for split, occ in table.index],
                       rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("AND-balanced completions (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Occupations: AND-balance rate per occupation, mean over seeds")
    ax.legend(fontsize=8, ncols=min(len(order), 6))
    _save(fig, out_png, out_pdf)
    plt.close(fig)


def rm_forget_lambda_curve(scores, settings: dict, out_png, out_pdf) -> None:
    """RM-Bench hard/normal/easy and pair accuracy against λ, per forget mode (aggregate/rm_forget.py)."""
    from debiaslab.aggregate.rm_forget import write_curve_figure

    write_curve_figure(scores, settings, out_png, out_pdf)


FIGURES = {"occupations_per_occupation": occupations_per_occupation, "rm_forget_lambda_curve": rm_forget_lambda_curve}
