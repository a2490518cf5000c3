"""Results tables from the score store: mean ± std, 95% CI and a test against the baseline, over seeds.

For each row (model, method, split) and metric, over the seeds in the store:
mean, sample std, n seeds, Student-t 95% CI of the mean, and — for every method but
the baseline — the difference to the baseline's mean with a t-test, paired by seed
where both have the same seeds (the design pairs them: same seed, same data) and
Welch's otherwise. The CSV keeps every number; Markdown and LaTeX render
"mean ± std" with the difference to the baseline for the key metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

SPLIT_ORDER = ("train", "heldout", "valid", "test")


@dataclass(frozen=True)
class TableSpec:
    """What one experiment's table shows."""

    experiment: str
    metrics: dict[str, str]  # metric name in the store → column label
    row_keys: tuple[str, ...] = ("model", "method", "split")
    subset: str = "all"
    scale: float = 1.0  # 100 shows rates as percentages
    scaled: tuple[str, ...] | None = None  # metrics to scale (None: all)
    decimals: int = 1
    method_order: tuple[str, ...] = ()
    baseline_method: str | None = None
    key_metrics: tuple[str, ...] = ()  # metrics whose difference to the baseline the Markdown/LaTeX show
    markdown_metrics: tuple[str, ...] | None = None  # metrics the Markdown/LaTeX show (None: all; CSV has all)
    caption: str = ""


def _factor(spec: TableSpec, metric: str) -> float:
    return spec.scale if spec.scaled is None or metric in spec.scaled else 1.0


def summary(scores, spec: TableSpec):
    """Long format: one row per (row key, metric) with mean, std, ci, n_seeds, diff/p/test vs the baseline."""
    import pandas as pd

    from debiaslab.metrics.statistics import difference_test, t_interval

    frame = scores[(scores["experiment"] == spec.experiment) & (scores["subset"] == spec.subset)
                   & scores["metric"].isin(list(spec.metrics))]
    keys = list(spec.row_keys)
    per_seed = {k: dict(zip(g["seed"], g["value"])) for k, g in frame.groupby(keys + ["metric"], sort=False)}
    rows = []
    for key, seeds in per_seed.items():
        *row_key, metric = key
        values = list(seeds.values())
        factor = _factor(spec, metric)
        low, high = t_interval(values)
        row = dict(zip(keys, row_key), metric=metric, mean=pd.Series(values).mean() * factor,
                   std=(pd.Series(values).std() if len(values) > 1 else 0.0) * factor, n_seeds=len(values),
                   ci_low=low * factor, ci_high=high * factor, diff=float("nan"), p=float("nan"), test="")
        if spec.baseline_method and "method" in keys:
            mkey = dict(zip(keys, row_key))
            if mkey["method"] != spec.baseline_method:
                base_key = tuple(spec.baseline_method if k == "method" else mkey[k] for k in keys) + (metric,)
                if base_key in per_seed:
                    diff, p, test = difference_test(seeds, per_seed[base_key])
                    row.update(diff=diff * factor, p=p, test=test)
        rows.append(row)
    out = pd.DataFrame(rows)
    return _order(out, spec)


def _order(frame, spec: TableSpec):
    order = []
    if "method" in frame and spec.method_order:
        rank = {m: i for i, m in enumerate(spec.method_order)}
        frame["_method"] = frame["method"].map(lambda m: rank.get(m, len(rank)))
        order.append("_method")
    if "split" in frame:
        frame["_split"] = frame["split"].map(lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER))
        order.append("_split")
    if "metric" in frame:
        rank = {m: i for i, m in enumerate(spec.metrics)}
        frame["_metric"] = frame["metric"].map(rank)
        order.append("_metric")
    if order:
        frame = frame.sort_values(order, kind="stable").drop(columns=order).reset_index(drop=True)
    return frame


def wide_table(scores, spec: TableSpec):
    """One row per row key; per metric `<label> mean|std|ci_low|ci_high`, and `Δ`/`p` vs the baseline."""
    import pandas as pd

    long = summary(scores, spec)
    keys = list(spec.row_keys)
    rows = []
    for key, part in long.groupby(keys, sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        for metric, label in spec.metrics.items():
            hit = part[part["metric"] == metric]
            for col in ("mean", "std", "ci_low", "ci_high", "diff", "p"):
                name = {"diff": f"{label} Δ vs base", "p": f"{label} p vs base"}.get(col, f"{label} {col}")
                row[name] = float(hit[col].iloc[0]) if not hit.empty else float("nan")
        row["n seeds"] = int(part["n_seeds"].max())
        tests = sorted({t for t in part["test"] if t})
        row["test vs base"] = ", ".join(tests)
        rows.append(row)
    wide = pd.DataFrame(rows)
    # drop all-NaN Δ/p columns (a table without a baseline has none)
    return wide.dropna(axis=1, how="all")


def _cell(row, label: str, decimals: int, with_diff: bool) -> str:
    mean = row.get(f"{label} mean", float("nan"))
    if mean != mean:
        return "–"
    if mean in (float("inf"), float("-inf")):
        return "∞" if mean > 0 else "−∞"
    fmt = f"{{:.{decimals}f}}"
    text = f"{fmt.format(mean)} ± {fmt.format(row[f'{label} std'])}"
    diff = row.get(f"{label} Δ vs base", float("nan"))
    if with_diff and diff == diff:
        p = row.get(f"{label} p vs base", float("nan"))
        star = "*" if p == p and p < 0.05 else ""
        text += f" (Δ {diff:+.{decimals}f}{star})"
    return text


def caption(spec: TableSpec) -> str:
    notes = ["Cells: mean ± sample std over seeds."]
    if spec.baseline_method and spec.key_metrics:
        notes.append(f"(Δ …) = difference to {spec.baseline_method}; * = p < 0.05, "
                     "t-test over seeds (paired by seed where both have the same seeds, else Welch).")
    notes.append("The CSV adds the Student-t 95% CI over seeds, every p-value and every metric.")
    return " ".join(([spec.caption] if spec.caption else []) + notes)


def _shown(wide, spec: TableSpec) -> list[str]:
    shown = spec.markdown_metrics if spec.markdown_metrics is not None else tuple(spec.metrics)
    return [spec.metrics[m] for m in shown if f"{spec.metrics[m]} mean" in wide]


def markdown(wide, spec: TableSpec) -> str:
    labels = _shown(wide, spec)
    keys = [k for k in spec.row_keys]
    head = keys + labels + ["n seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    key_labels = {spec.metrics[m] for m in spec.key_metrics}
    for _, row in wide.iterrows():
        cells = [str(row[k]) for k in keys]
        cells += [_cell(row, label, spec.decimals, label in key_labels) for label in labels]
        cells.append(str(row["n seeds"]))
        lines.append("| " + " | ".join(cells) + " |")
    return f"{caption(spec)}\n\n" + "\n".join(lines) + "\n"


def latex(wide, spec: TableSpec) -> str:
    """A booktabs table with the same cells as the Markdown."""
    labels = _shown(wide, spec)
    keys = list(spec.row_keys)
    key_labels = {spec.metrics[m] for m in spec.key_metrics}

    def esc(text: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                     ("±", r"$\pm$"), ("Δ", r"$\Delta$"), ("–", "--")):
            text = text.replace(a, b)
        return text

    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + "l" * len(keys) + "r" * (len(labels) + 1) + "}", r"\toprule",
             " & ".join(esc(h) for h in keys + labels + ["n seeds"]) + r" \\", r"\midrule"]
    for _, row in wide.iterrows():
        cells = [esc(str(row[k])) for k in keys]
        cells += [esc(_cell(row, label, spec.decimals, label in key_labels)) for label in labels]
        cells.append(str(row["n seeds"]))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{esc(caption(spec))}}}",
              rf"\label{{tab:{spec.experiment}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(scores, spec: TableSpec, csv_path, md_path, tex_path=None) -> None:
    from debiaslab.io import write_text

    wide = wide_table(scores, spec)
    write_text(csv_path, wide.to_csv(index=False, float_format="%.6g"))
    write_text(md_path, markdown(wide, spec))
    if tex_path:
        write_text(tex_path, latex(wide, spec))
