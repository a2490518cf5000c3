"""Results tables from the score store: mean ± std over seeds.

The CSV keeps numbers (mean, std, n seeds per metric) for further analysis; the
Markdown renders "mean ± std" for reading. Rows are ordered as the config lists
methods, then splits in the order they appear in the scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field


SPLIT_ORDER = ("train", "heldout", "valid", "test")


@dataclass(frozen=True)
class TableSpec:
    """What one experiment's table shows."""

    experiment: str
    metrics: dict[str, str]  # metric name in the store → column label
    row_keys: tuple[str, ...] = ("model", "method", "split")
    subset: str = "all"
    scale: float = 1.0  # 100 to show rates as percentages
    decimals: int = 1
    method_order: tuple[str, ...] = ()
    caption: str = ""
    extra: dict = field(default_factory=dict)


def seed_summary(scores, spec: TableSpec):
    """Mean, sample std (ddof=1) and number of seeds per row key and metric."""
    frame = scores[(scores["experiment"] == spec.experiment) & (scores["subset"] == spec.subset)
                   & scores["metric"].isin(list(spec.metrics))]
    keys = list(spec.row_keys) + ["metric"]
    grouped = frame.groupby(keys, sort=False)["value"]
    summary = grouped.agg(mean="mean", std="std", n_seeds="count").reset_index()
    summary["std"] = summary["std"].fillna(0.0)  # one seed: no spread to report
    return summary


def wide_table(scores, spec: TableSpec):
    """One row per row key; per metric the columns `<label> mean`, `<label> std`, plus `n seeds`."""
    import pandas as pd

    summary = seed_summary(scores, spec)
    rows = []
    for key, part in summary.groupby(list(spec.row_keys), sort=False):
        row = dict(zip(spec.row_keys, key))
        for metric, label in spec.metrics.items():
            hit = part[part["metric"] == metric]
            if hit.empty:
                row[f"{label} mean"] = row[f"{label} std"] = float("nan")
                continue
            row[f"{label} mean"] = round(float(hit["mean"].iloc[0]) * spec.scale, 6)
            row[f"{label} std"] = round(float(hit["std"].iloc[0]) * spec.scale, 6)
        row["n seeds"] = int(part["n_seeds"].max())
        rows.append(row)
    table = pd.DataFrame(rows)
    order = []
    if "method" in table and spec.method_order:
        rank = {m: i for i, m in enumerate(spec.method_order)}
        table["_method"] = table["method"].map(lambda m: rank.get(m, len(rank)))
        order.append("_method")
    if "split" in table:
        table["_split"] = table["split"].map(lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER))
        order.append("_split")
    if order:
        table = table.sort_values(order, kind="stable").drop(columns=order).reset_index(drop=True)
    return table


def markdown(table, spec: TableSpec) -> str:
    """Render mean ± std cells; the caption line explains units."""
    labels = list(spec.metrics.values())
    head = list(spec.row_keys) + labels + ["n seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    fmt = f"{{:.{spec.decimals}f}}"
    for _, row in table.iterrows():
        cells = [str(row[k]) for k in spec.row_keys]
        for label in labels:
            mean, std = row[f"{label} mean"], row[f"{label} std"]
            cells.append("–" if mean != mean else f"{fmt.format(mean)} ± {fmt.format(std)}")
        cells.append(str(row["n seeds"]))
        lines.append("| " + " | ".join(cells) + " |")
    caption = spec.caption + (" " if spec.caption else "") + "Cells: mean ± sample std over seeds."
    return f"{caption}\n\n" + "\n".join(lines) + "\n"


def write_table(scores, spec: TableSpec, csv_path, md_path) -> None:
    from debiaslab.io import write_text

    table = wide_table(scores, spec)
    write_text(csv_path, table.to_csv(index=False, float_format="%.6g"))
    write_text(md_path, markdown(table, spec))
