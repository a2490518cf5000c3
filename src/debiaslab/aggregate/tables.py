"""Results tables from the score store: one statistics path for every experiment.

For each row (the spec's row keys) and metric, over the seeds in the store:

- mean, sample SD and n seeds; the Student-t 95 % CI over seeds;
- the 95 % interval over items (responses, questions, pairs, sentences, occupations): the Wilson
  score interval of the items pooled over seeds for shares of 0/1 items, else the percentile
  interval of the scoring jobs' bootstrap replicates averaged over seeds (stratified by seed);
- for every row but the baseline (`TableSpec.baseline`): Δ = row − baseline paired by seed, its
  Student-t CI, its bootstrap interval over items, the paired t-test over seeds; for shares of 0/1
  items also the Cochran–Mantel–Haenszel test stratified by seed and Cohen's d; p-values
  Holm-adjusted over all of a table's comparisons (each test its own family).

Every interval is cut to its metric's range; an undefined test is shown as such ("n/a: n < 2",
"n/a: zero variance"). The CSV keeps every number; Markdown and LaTeX show the headline columns,
and the caption — generated here from the same spec — says which interval and test each shows.
Experiment-specific reshaping (a grid cell or λ as row keys) is the spec's `prepare`; each experiment's
spec is its own (experiments/<name>/table.py, built with `experiment_spec`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from debiaslab.core.statistics import LEVEL, NAN, NO_REPLICATES, RESAMPLES

INF = float("inf")

SPLIT_ORDER = ("train", "heldout", "valid", "validation", "test")
KEY_LABELS = {"size": "n", "temperature": "T", "lambda": "λ", "subset": "category"}
PCT = f"{LEVEL * 100:g} %"  # the confidence level in words


@dataclass(frozen=True)
class TableSpec:
    """What one table (or one section of an experiment's table) shows and what it compares."""

    experiment: str
    metrics: dict[str, str] | None  # store metric → column label (None: every metric left by `prepare`)
    row_keys: tuple[str, ...] = ("model", "method", "split")
    subset: str | None = "all"  # the store subset the rows come from (None: `prepare` chose the rows)
    baseline: dict = field(default_factory=dict)  # row-key values of the baseline row; other keys are matched
    baseline_once: bool = False  # the baseline is scored once (it does not depend on the seed): every seed vs it
    compared: tuple[str, ...] | None = None  # metrics compared with the baseline (None: all)
    proportions: tuple[str, ...] = ()  # shares of 0/1 items (n = items): Wilson interval, CMH test, Cohen's d
    bounds: Callable[[str], tuple[float, float] | None] | None = None  # metric → its range in store units
    scale: float = 1.0  # 100 shows shares as percentages
    scaled: tuple[str, ...] | None = None  # metrics to scale (None: all)
    decimals: int = 1
    method_order: tuple[str, ...] = ()
    headline: tuple[str, ...] | None = None  # metrics the Markdown shows (None: all; the CSV has all)
    key_metrics: tuple[str, ...] | None = ()  # metrics whose Δ and p the Markdown and LaTeX show (None: every one)
    paper: tuple[str, ...] = ()  # metrics the LaTeX table shows (paper width; empty: the headline)
    paper_delta: tuple[str, ...] | None = None  # metrics whose Δ and p the LaTeX table shows (None: key_metrics)
    relative_change: bool = False  # also the change in % of the baseline, per seed
    items: str = "items"  # what the scoring jobs resample (responses, questions, ...)
    caption: str = ""  # what the table measures: units and definitions
    prepare: Callable | None = None  # store rows → rows with the row keys (experiment-specific reshaping)
    name: str = ""  # section name (several sections: CSV column `table`, LaTeX label)


@dataclass(frozen=True)
class Table:
    """An experiment's table: one or more sections, one Holm family over all their comparisons."""

    experiment: str
    sections: tuple[TableSpec, ...]
    source: str = ""  # the config that made it (its `name`): a last line of the Markdown, a comment in the LaTeX


def metric_range(metric: str, ranges: dict[str, tuple[float, float]] | None = None) -> tuple[float, float] | None:
    """The range a metric's values (and so its intervals) live in, in store units (None: unbounded): an
    experiment's own `ranges` by name first, then by the name's form (rates, accuracies, perplexities, ...)."""
    if ranges and metric in ranges:
        return ranges[metric]
    if metric.endswith(("_rate", "_acc", "_accuracy", "_f1")) or metric.startswith(("rmbench_", "pair_acc_", "crows_")):
        return 0.0, 1.0
    if metric.endswith(("matthews_corr", "pearson", "spearman")) or metric == "glue_score":
        return -1.0, 1.0
    if metric.endswith("perplexity"):
        return 1.0, INF
    if metric.endswith(("_bits", "_loss", "nll_per_token", "_var")) or metric.startswith("kl"):
        return 0.0, INF
    return None


def experiment_spec(experiment: str, settings: dict, decimals: int, ranges: dict | None = None, **fields) -> TableSpec:
    """A TableSpec with what every experiment's shares: its `table` settings' decimals, the configured method
    order, and its metrics' ranges (metric_range with the experiment's own `ranges`)."""
    return TableSpec(
        experiment=experiment,
        decimals=settings.get("decimals", decimals),
        method_order=tuple(settings.get("method_order", ())),
        bounds=lambda metric: metric_range(metric, ranges),
        **fields,
    )


# --- statistics ---------------------------------------------------------------------------------------


def cells(scores, spec: TableSpec):
    """The store rows a section shows: columns row keys, metric, seed, value, n, replicates."""
    frame = scores[scores["experiment"] == spec.experiment]
    if spec.prepare is not None:
        frame = spec.prepare(frame)
    if spec.subset is not None:
        frame = frame[frame["subset"] == spec.subset]
    if spec.metrics is not None:
        frame = frame[frame["metric"].isin(list(spec.metrics))]
    if "replicates" not in frame:
        frame = frame.assign(replicates=[[] for _ in range(len(frame))])
    return frame


def _factor(spec: TableSpec, metric: str) -> float:
    return spec.scale if spec.scaled is None or metric in spec.scaled else 1.0


def _label(spec: TableSpec, metric: str) -> str:
    return metric if spec.metrics is None else spec.metrics[metric]


def _compared(spec: TableSpec, metric: str) -> bool:
    return bool(spec.baseline) and (spec.compared is None or metric in spec.compared)


def _is_baseline(spec: TableSpec, key: dict) -> bool:
    return bool(spec.baseline) and all(key.get(k) == v for k, v in spec.baseline.items())


def _item_interval(spec: TableSpec, metric: str, seeds: dict):
    """(low, high, method) over items for one cell."""
    from debiaslab.core.statistics import percentile_interval, stratified_replicates, wilson_interval

    if metric in spec.proportions:
        k = sum(round(v * n) for v, n, _ in seeds.values())
        low, high = wilson_interval(k, sum(n for _, n, _ in seeds.values()))
        return low, high, "Wilson"
    reps = stratified_replicates([r for _, _, r in seeds.values()])
    if reps is None:
        return NAN, NAN, NO_REPLICATES
    low, high = percentile_interval(reps)
    return low, high, "bootstrap"


def _comparison(spec: TableSpec, metric: str, seeds: dict, base: dict, bounds) -> dict:
    """Δ to the baseline: paired by seed (or every seed vs a baseline scored once)."""
    import numpy as np

    from debiaslab.core.statistics import (
        N_BELOW_2,
        clip_interval,
        cmh_test,
        paired_difference,
        percentile_interval,
        strata_from_rates,
        stratified_cohens_d,
        t_interval,
    )

    if spec.baseline_once and len(base) == 1:
        (b,) = base.values()
        pairs = [(seeds[s], b) for s in sorted(seeds)]
    else:
        pairs = [(seeds[s], base[s]) for s in sorted(set(seeds) & set(base))]
    d = paired_difference([a[0] for a, _ in pairs], [b[0] for _, b in pairs])
    out = {"diff": d.diff, "diff_low": d.ci_low, "diff_high": d.ci_high, "p": d.p, "test": d.test, "n_pairs": d.n}
    span = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    out["diff_low"], out["diff_high"] = clip_interval(out["diff_low"], out["diff_high"], span)
    reps = [(np.asarray(a[2], float), np.asarray(b[2], float)) for a, b in pairs]
    ok = pairs and all(len(x) and len(x) == len(y) for x, y in reps)
    diff_reps = np.mean([x - y for x, y in reps], axis=0) if ok else None
    out["diff_item_low"], out["diff_item_high"] = percentile_interval(diff_reps) if ok else (NAN, NAN)
    if metric in spec.proportions:
        strata = strata_from_rates([(a[0], a[1], b[0], b[1]) for a, b in pairs])
        out["p_items"], out["items_test"] = cmh_test(strata)
        out["cohens_d"], out["d_note"] = stratified_cohens_d(strata)
    if spec.relative_change:
        with np.errstate(divide="ignore", invalid="ignore"):
            change = [100.0 * (a[0] - b[0]) / b[0] if b[0] else NAN for a, b in pairs]
            rel_reps = np.mean([100.0 * (x - y) / y for x, y in reps], axis=0) if ok else None
        rel_bounds = (-100.0, float("inf")) if bounds is not None and bounds[0] >= 0 else None
        low, high = t_interval(change) if len(change) > 1 else (NAN, NAN)
        out.update(
            change=float(np.mean(change)) if change else NAN,
            change_std=float(np.std(change, ddof=1)) if len(change) > 1 else NAN,
        )
        out["change_low"], out["change_high"] = clip_interval(low, high, rel_bounds)
        item = percentile_interval(rel_reps) if ok and np.isfinite(rel_reps).all() else (NAN, NAN)
        out["change_item_low"], out["change_item_high"] = clip_interval(*item, rel_bounds)
    if not pairs:
        out["test"] = N_BELOW_2
    return out


def summary(scores, spec: TableSpec):
    """Long format: one row per (row key, metric) with every statistic (Holm's adjustment: `adjust`)."""
    import numpy as np
    import pandas as pd

    from debiaslab.core.statistics import clip_interval, t_interval

    frame = cells(scores, spec)
    keys = list(spec.row_keys)
    per_cell: dict[tuple, dict] = {}
    for row in frame[keys + ["metric", "seed", "value", "n", "replicates"]].itertuples(index=False):
        *key, metric, seed, value, n, reps = row
        per_cell.setdefault((*key, metric), {})[int(seed)] = (float(value), int(n), reps)
    rows = []
    for cell_key, seeds in per_cell.items():
        *key_values, metric = cell_key
        key = dict(zip(keys, key_values))
        values = [seeds[s][0] for s in sorted(seeds)]
        bounds = spec.bounds(metric) if spec.bounds else None
        low, high = clip_interval(*t_interval(values), bounds)
        item_low, item_high, method = _item_interval(spec, metric, seeds)
        item_low, item_high = clip_interval(item_low, item_high, bounds)
        row = {
            **key,
            "metric": metric,
            "label": _label(spec, metric),
            "mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else NAN,
            "n_seeds": len(values),
            "ci_low": low,
            "ci_high": high,
            "item_low": item_low,
            "item_high": item_high,
            "item_method": method,
            "baseline": _is_baseline(spec, key),
            "compared": False,
        }
        if _compared(spec, metric) and not row["baseline"]:
            base_key = tuple(spec.baseline.get(k, key[k]) for k in keys) + (metric,)
            if base_key in per_cell:
                row.update(_comparison(spec, metric, seeds, per_cell[base_key], bounds), compared=True)
        rows.append(row)
    out = pd.DataFrame(rows)
    for column in (
        "diff",
        "diff_low",
        "diff_high",
        "diff_item_low",
        "diff_item_high",
        "p",
        "p_items",
        "cohens_d",
        "change",
        "change_std",
        "change_low",
        "change_high",
        "change_item_low",
        "change_item_high",
    ):
        if column not in out:
            out[column] = NAN
    for column in ("test", "items_test", "d_note"):
        out[column] = out[column].fillna("") if column in out else ""
    if len(out):
        factor = out["metric"].map(lambda m: _factor(spec, m))
        for column in (
            "mean",
            "std",
            "ci_low",
            "ci_high",
            "item_low",
            "item_high",
            "diff",
            "diff_low",
            "diff_high",
            "diff_item_low",
            "diff_item_high",
        ):
            out[column] = out[column] * factor
    return _order(out, spec)


def adjust(summaries: list) -> list:
    """Holm's adjustment over all comparisons of a table's sections: paired t-tests one family, CMH tests another."""
    import pandas as pd

    from debiaslab.core.statistics import holm

    if not summaries:
        return summaries
    sizes = [len(s) for s in summaries]
    both = pd.concat(summaries, ignore_index=True)
    for column in ("p", "p_items"):
        both[f"{column}_holm"] = holm(both[column].tolist()) if len(both) else []
    out, start = [], 0
    for n in sizes:
        out.append(both.iloc[start : start + n].reset_index(drop=True))
        start += n
    return out


def _order(frame, spec: TableSpec):
    """Rows in row-key order: methods as configured, splits train → test, numbers ascending, other keys as they
    first appear; metrics in the spec's order."""
    if frame.empty:
        return frame
    order = []
    for key in spec.row_keys:
        values = list(dict.fromkeys(frame[key]))
        if key == "method":
            configured = [m for m in spec.method_order if m in values]
            values = configured + [m for m in values if m not in configured]
        elif key == "split":
            values = sorted(values, key=lambda s: SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER))
        elif all(isinstance(v, (int, float)) for v in values):
            values = sorted(values)
        rank = {v: i for i, v in enumerate(values)}
        frame[f"_{key}"] = frame[key].map(rank)
        order.append(f"_{key}")
    rank = {m: i for i, m in enumerate(spec.metrics or ())}
    frame["_metric"] = frame["metric"].map(lambda m: rank.get(m, len(rank)))
    order.append("_metric")
    return frame.sort_values(order, kind="stable").drop(columns=order).reset_index(drop=True)


# --- the wide table (CSV) --------------------------------------------------------------------------------

STAT_COLUMNS = {  # long column → wide suffix
    "mean": "mean",
    "std": "std",
    "ci_low": "ci low",
    "ci_high": "ci high",
    "item_low": "item ci low",
    "item_high": "item ci high",
    "item_method": "item interval",
}
COMPARISON_COLUMNS = {
    "diff": "Δ",
    "diff_low": "Δ ci low",
    "diff_high": "Δ ci high",
    "diff_item_low": "Δ item ci low",
    "diff_item_high": "Δ item ci high",
    "p": "p",
    "p_holm": "p Holm",
    "test": "test",
}
PROPORTION_COLUMNS = {
    "p_items": "p items",
    "p_items_holm": "p items Holm",
    "items_test": "items test",
    "cohens_d": "Cohen's d",
    "d_note": "d note",
}
CHANGE_COLUMNS = {
    "change": "change %",
    "change_std": "change % std",
    "change_low": "change % ci low",
    "change_high": "change % ci high",
    "change_item_low": "change % item ci low",
    "change_item_high": "change % item ci high",
}


def wide_table(long, spec: TableSpec):
    """One row per row key; per metric label the statistics of STAT_COLUMNS and, where compared, the rest."""
    import pandas as pd

    keys = list(spec.row_keys)
    labels = list(dict.fromkeys(long["label"])) if len(long) else []
    compared = set(long.loc[long["compared"], "label"]) if len(long) else set()
    proportions = {_label(spec, m) for m in spec.proportions}
    rows = []
    for key, part in long.groupby(keys, sort=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        by_label = {r["label"]: r for _, r in part.iterrows()}
        for label in labels:
            hit = by_label.get(label)
            columns = dict(STAT_COLUMNS)
            if label in compared:
                columns |= (
                    COMPARISON_COLUMNS
                    | (PROPORTION_COLUMNS if label in proportions else {})
                    | (CHANGE_COLUMNS if spec.relative_change else {})
                )
            for column, suffix in columns.items():
                text = column in ("item_method", "test", "items_test", "d_note")
                row[f"{label} {suffix}"] = ("" if text else NAN) if hit is None or (column not in hit) else hit[column]
            if hit is not None and hit["baseline"] and label in compared:
                row[f"{label} test"] = "baseline"
        row["n seeds"] = int(part["n_seeds"].max())
        rows.append(row)
    return pd.DataFrame(rows)


# --- text: numbers, escaping, captions ---------------------------------------------------------------------


def number(x: float, decimals: int, sign: bool = False) -> str:
    """Fixed decimals, or 2 significant digits where fixed decimals would show nothing (a tiny KL or SD)."""
    import math

    if x != x:
        return "–"
    if math.isinf(x):
        return ("+" if sign else "") + "∞" if x > 0 else "−∞"
    small = x != 0 and abs(x) < 0.5 * 10**-decimals
    text = f"{x:{'+' if sign else ''}.2g}" if small else f"{x:{'+' if sign else ''}.{decimals}f}"
    return text.replace("-", "−")


def p_text(p: float, note: str) -> str:
    if p != p:
        return note or "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def interval_text(low: float, high: float, decimals: int, sign: bool = False) -> str:
    if low != low or high != high:
        return ""
    return f"[{number(low, decimals, sign)}, {number(high, decimals, sign)}]"


def shown_interval(row) -> tuple[float, float]:
    """The interval tables and figures show for a cell: the Student-t CI over seeds, or with one seed the
    interval over items."""
    return (row["ci_low"], row["ci_high"]) if row["n_seeds"] > 1 else (row["item_low"], row["item_high"])


def with_shown_interval(long):
    """The long summary with `low`/`high`: the interval tables show (figures draw the same)."""
    bounds = [shown_interval(row) for _, row in long.iterrows()]
    return long.assign(low=[b[0] for b in bounds], high=[b[1] for b in bounds])


def shown_interval_name(long, spec: TableSpec) -> str:
    """A short name of the intervals `shown_interval` gives for these rows (a figure's axis label)."""
    seeds = set(long["n_seeds"])
    if min(seeds) > 1:
        return f"Student-t {PCT} CI over seeds"
    if max(seeds) == 1:
        return f"{PCT} interval over {spec.items}"
    return f"Student-t {PCT} CI over seeds (one seed: over {spec.items})"


def interval_words(spec: TableSpec, metric: str | None = None) -> str:
    """In words, the interval `shown_interval` gives for `metric` (or for the spec's metrics in general)."""
    share = metric in spec.proportions if metric is not None else False
    items = (
        f"the Wilson score interval of the {spec.items} pooled over seeds"
        if share
        else f"the {PCT} bootstrap interval over {spec.items}, {RESAMPLES:,} resamples"
    )
    return f"Student-t {PCT} CI of the mean over seeds (with one seed: {items})"


def value_cell(row, decimals: int) -> str:
    """mean ± SD [Student-t CI over seeds]; with one seed: mean [interval over items]."""
    if row["mean"] != row["mean"]:
        return "–"
    low, high = shown_interval(row)
    if row["n_seeds"] > 1:
        return (
            f"{number(row['mean'], decimals)} ± {number(row['std'], decimals)} "
            f"{interval_text(low, high, decimals)}".rstrip()
        )
    shown = interval_text(low, high, decimals)
    return f"{number(row['mean'], decimals)} {shown or '(no interval: ' + row['item_method'] + ')'}"


def diff_cell(row, decimals: int, column: str = "diff") -> str:
    """Δ [Student-t CI over seeds]; with one pair of seeds: Δ [bootstrap interval over items]."""
    if row.get("baseline"):
        return "(baseline)"
    if not row.get("compared") or row[column] != row[column]:
        return "–"
    prefix = "change" if column == "change" else "diff"
    low, high = (
        (row[f"{prefix}_low"], row[f"{prefix}_high"])
        if row["n_pairs"] > 1
        else (row[f"{prefix}_item_low"], row[f"{prefix}_item_high"])
    )
    return f"{number(row[column], decimals, sign=True)} {interval_text(low, high, decimals, sign=True)}".rstrip()


def key_text(key: str, value) -> str:
    if isinstance(value, float):
        return f"{value:g}".replace("-", "−")
    return str(value)


def _baseline_text(spec: TableSpec) -> str:
    chosen = ", ".join(f"{KEY_LABELS.get(k, k)} = {key_text(k, v)}" for k, v in spec.baseline.items())
    matched = ", ".join(KEY_LABELS.get(k, k) for k in spec.row_keys if k not in spec.baseline)
    how = "each seed compared with the baseline, which is scored once" if spec.baseline_once else "paired by seed"
    return f"the row with {chosen} and the same {matched} ({how})"


def caption(spec: TableSpec, compact: bool = False) -> str:
    """The section's caption: what it measures (the spec's own words), then exactly which interval, test and
    correction each column shows — generated from the spec, so the words cannot drift from the numbers.
    `compact`: the same facts in fewer words, for a LaTeX table (its headline columns only)."""
    if compact:
        return _compact_caption(spec)
    items = spec.items
    metrics = list(spec.metrics) if spec.metrics is not None else []
    shares = [_label(spec, m) for m in spec.proportions if m in metrics]
    boot = (
        f"the percentile interval of {RESAMPLES:,} bootstrap replicates stratified by seed (each scoring job "
        f"recomputes the metric on {RESAMPLES:,} seeded resamples of its {items}; replicate b is averaged "
        "over seeds)"
    )
    notes = [spec.caption] if spec.caption else []
    notes.append(
        f"Cells: mean ± sample SD over seeds [Student-t {PCT} CI of the mean over seeds]; in rows with "
        f"one seed (n seeds = 1): mean [{PCT} interval over {items}]."
    )
    if shares:
        notes.append(
            f"Interval over {items}: for {', '.join(shares)} the Wilson score interval of the {items} "
            f"pooled over seeds, for every other metric {boot}."
        )
    else:
        notes.append(f"Interval over {items}: {boot}.")
    if spec.bounds is not None:
        notes.append("Every interval is cut to its metric's range (a share stays within 0–100 %).")
    if spec.baseline:
        compared = [_label(spec, m) for m in (spec.compared if spec.compared is not None else metrics)] or [
            "every metric"
        ]
        keyed = compared if spec.key_metrics is None else [_label(spec, m) for m in spec.key_metrics]
        notes.append(
            f"Δ = the row minus {_baseline_text(spec)}, for {', '.join(compared)}. Shown for "
            f"{', '.join(keyed)}: Δ [Student-t {PCT} CI over seeds; with one seed the {PCT} "
            f"bootstrap interval of Δ over {items}] and p = two-sided paired t-test over seeds, "
            "Holm-adjusted over all comparisons of this table (every row but the baseline × every "
            "compared metric); “n/a: n < 2” with fewer than two seeds, “n/a: zero variance” when Δ is "
            "the same in every seed."
        )
        tested_shares = [s for s in shares if s in compared]
        if tested_shares:
            notes.append(
                f"For {', '.join(tested_shares)}: p items = Cochran–Mantel–Haenszel test of the 0/1 {items} "
                "stratified by seed (with one seed: the Mann–Whitney U test's normal approximation), "
                "Holm-adjusted over all CMH tests of this table; d = Cohen's d of the 0/1 "
                f"{items} with the SD pooled within seeds (“n/a: zero variance” when every item is alike)."
            )
        if spec.relative_change:
            notes.append(
                f"Change % = 100 · Δ / baseline, per seed [Student-t {PCT} CI over seeds; with one "
                f"seed the bootstrap interval over {items}]."
            )
    notes.append(
        "The CSV has every metric with both intervals, Δ with both intervals and every p-value, raw and Holm-adjusted."
    )
    return " ".join(notes)


def _compact_caption(spec: TableSpec) -> str:
    metrics = list(spec.metrics) if spec.metrics is not None else []
    shares = [m for m in spec.proportions if m in metrics]
    items = f"{'Wilson (shares) or ' if shares else ''}{RESAMPLES:,}-replicate bootstrap stratified by seed"
    notes = [spec.caption] if spec.caption else []
    notes.append(
        f"Mean ± SD over seeds [Student-t {PCT} CI]; one seed: mean [{PCT} interval over {spec.items}: {items}]."
    )
    if spec.baseline:
        notes.append(
            f"Δ = row − {_baseline_text(spec)} [as above]; p: two-sided paired t-test over seeds, "
            "Holm-adjusted over the table's comparisons; n/a: fewer than 2 seeds or zero variance."
        )
        if spec.relative_change:
            notes.append("Change % = 100 · Δ / baseline.")
    if spec.bounds is not None:
        notes.append("Intervals cut to each metric's range.")
    notes.append("Every column and statistic: the CSV and Markdown table.")
    return " ".join(notes)


MARKDOWN_SPECIAL = "\\`*_|"


def markdown_escape(text: str) -> str:
    """Cell or caption text as literal Markdown: a `|` no longer splits a table cell, `*`/`_` start no emphasis,
    a backtick no code span, and `<` no HTML tag."""
    text = str(text)
    return "".join(
        "\\" + c if c in MARKDOWN_SPECIAL or (c == "<" and text[i + 1 : i + 2].strip()) else c
        for i, c in enumerate(text)
    )


LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "λ": r"$\lambda$",
    "‖": r"$\Vert$",
    "−": r"$-$",
    "–": "--",
    "—": "---",
    "·": r"$\cdot$",
    "∞": r"$\infty$",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "×": r"$\times$",
    "≈": r"$\approx$",
    "→": r"$\rightarrow$",
    "“": "``",
    "”": "''",
    "’": "'",
    "‘": "`",
    "é": r"\'e",
    "ö": r"\"o",
    "²": r"$^2$",
    "µ": r"$\mu$",
    "μ": r"$\mu$",
    "α": r"$\alpha$",
    "β": r"$\beta$",
    "γ": r"$\gamma$",
}


def latex_escape(text: str) -> str:
    """Text for pdflatex: LaTeX's special characters escaped, the symbols used here as math; any other
    non-ASCII character becomes '?' (it would stop pdflatex)."""
    return "".join(LATEX.get(c, c if ord(c) < 128 else "?") for c in str(text))


# --- rendering -----------------------------------------------------------------------------------------------


def _columns(long, spec: TableSpec, keys: list[str], shown, deltas, full: bool):
    """(header, cell functions) of the headline columns: row keys, `shown` metrics, Δ / change % / p of the
    `deltas` metrics (`full`: also p items and d of shares), n seeds."""
    present = list(dict.fromkeys(long["metric"]))
    metrics = [m for m in (shown if shown is not None else present) if m in present]
    decimals = spec.decimals
    header = [KEY_LABELS.get(k, k) for k in keys] + [_label(spec, m) for m in metrics]
    columns = [(lambda rows, k=k: key_text(k, next(iter(rows.values()))[k])) for k in keys]
    columns += [(lambda rows, m=m: value_cell(rows[m], decimals) if m in rows else "–") for m in metrics]
    compared = set(long.loc[long["compared"], "metric"]) | set(long.loc[long["baseline"], "metric"])

    def unless_baseline(m, text):
        return lambda rows: "" if m not in rows or rows[m]["baseline"] else text(rows[m])

    for m in metrics if deltas is None else deltas:
        if m not in present or m not in compared:
            continue
        label = _label(spec, m)
        header += [f"Δ {label}"]
        columns += [lambda rows, m=m: diff_cell(rows[m], decimals) if m in rows else "–"]
        if spec.relative_change:
            header += [f"change % {label}"]
            columns += [lambda rows, m=m: diff_cell(rows[m], 1, "change") if m in rows else "–"]
        header += [f"p {label}"]
        columns += [unless_baseline(m, lambda r: p_text(r["p_holm"], r["test"]))]
        if full and m in spec.proportions:
            header += [f"p items {label}", f"d {label}"]
            columns += [
                unless_baseline(m, lambda r: p_text(r["p_items_holm"], r["items_test"])),
                unless_baseline(
                    m, lambda r: number(r["cohens_d"], 2) if r["cohens_d"] == r["cohens_d"] else r["d_note"] or "–"
                ),
            ]
    header.append("n seeds")
    columns.append(lambda rows: str(max(r["n_seeds"] for r in rows.values())))
    return header, columns


def _grid(long, spec: TableSpec, keys, shown, deltas, full: bool):
    """(header, body): one list of cell texts per row key — or, for a section whose metrics are whatever the
    store has (`metrics=None`), per row key and metric, so that more evaluations add rows, not columns."""
    groups = list(spec.row_keys)
    if spec.metrics is None:
        long = long.assign(value="value", metric_name=long["metric"], metric="value", label="value")
        keys, groups = keys + ["metric_name"], groups + ["metric_name"]
        shown = deltas = ("value",)
    header, columns = _columns(long, spec, keys, shown, deltas, full)
    header = ["metric" if h == "metric_name" else h for h in header]
    body = []
    for _, part in long.groupby(groups, sort=False):
        rows = {r["metric"]: r for r in part.to_dict("records")}
        body.append([f(rows) for f in columns])
    return header, body


def markdown(table: Table, longs: list) -> str:
    blocks = []
    for spec, long in zip(table.sections, longs):
        header, body = _grid(long, spec, list(spec.row_keys), spec.headline, spec.key_metrics, full=True)
        lines = [
            markdown_escape(caption(spec)),
            "",
            "| " + " | ".join(markdown_escape(h) for h in header) + " |",
            "|" + "|".join("---" for _ in header) + "|",
        ]
        lines += ["| " + " | ".join(markdown_escape(c) for c in cells) + " |" for cells in body]
        blocks.append("\n".join(lines))
    if table.source:
        blocks.append(markdown_escape(f"Made by config {table.source}."))
    return "\n\n".join(blocks) + "\n"


def _latex_lines(text: str, header: bool = False) -> str:
    """A cell as one or two lines: "value [interval]" breaks before the interval, "n/a: reason" after the colon, a
    long header at its middle space (a nested tabular keeps the column narrow)."""
    if header and len(text) > 6 and " " in text:
        spaces = [i for i, c in enumerate(text) if c == " "]
        cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
        parts = [text[:cut], text[cut + 1 :]]
    elif text.startswith("n/a: "):
        parts = ["n/a:", text[5:]]
    elif " [" in text:
        parts = text.split(" [", 1)
        parts[1] = "[" + parts[1]
    else:
        return latex_escape(text)
    align = "c" if header else "r"
    return (
        rf"\begin{{tabular}}[{'b' if header else 't'}]{{@{{}}{align}@{{}}}}"
        + r"\\{}".join(latex_escape(part) for part in parts)
        + r"\end{tabular}"
    )


def latex(table: Table, longs: list) -> str:
    """One booktabs table per section at paper width: the row keys that vary, the spec's `paper` metrics and the
    Δ, change % and p of its `paper_delta` metrics, each value's interval on a second line (the Markdown and CSV
    have the rest), shrunk to the text width only where it would still be wider; needs
    \\usepackage{booktabs,graphicx}."""
    out = [f"% made by config {table.source}"] if table.source else []
    for spec, long in zip(table.sections, longs):
        keys = [k for k in spec.row_keys if long[k].nunique() > 1] or list(spec.row_keys[:1])
        fixed = [
            f"{KEY_LABELS.get(k, k)}: {key_text(k, long[k].iloc[0])}"
            for k in spec.row_keys
            if k not in keys and len(long)
        ]
        deltas = spec.paper_delta if spec.paper_delta is not None else spec.key_metrics
        header, body = _grid(long, spec, keys, spec.paper or spec.headline, deltas, full=False)
        text = caption(spec, compact=True) + (f" Same for every row: {'; '.join(fixed)}." if fixed else "")
        n_keys = len(keys) + (spec.metrics is None)
        lines = [
            r"\begin{table}[t]",
            r"\centering",
            r"\footnotesize",
            r"\setlength{\tabcolsep}{3pt}",
            r"\ifdefined\debiaslabtable\else\newsavebox{\debiaslabtable}\fi",
            r"\sbox{\debiaslabtable}{\begin{tabular}{" + "l" * n_keys + "r" * (len(header) - n_keys) + "}",
            r"\toprule",
            " & ".join(_latex_lines(h, header=True) for h in header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(_latex_lines(c) for c in cells) + r" \\" for cells in body]
        label = spec.experiment + (f"_{spec.name}" if spec.name else "")
        # never wider than the text: shrunk to \linewidth only if it would overflow
        lines += [
            r"\bottomrule",
            r"\end{tabular}}",
            r"\ifdim\wd\debiaslabtable>\linewidth\resizebox{\linewidth}{!}{\usebox{\debiaslabtable}}"
            r"\else\usebox{\debiaslabtable}\fi",
            rf"\caption{{{latex_escape(text)}}}",
            rf"\label{{tab:{label}}}",
            r"\end{table}",
        ]
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def build(scores, table: Table) -> list:
    """Every section's long summary, Holm-adjusted over the whole table."""
    return adjust([summary(scores, spec) for spec in table.sections])


def csv_text(table: Table, longs: list) -> str:
    import pandas as pd

    wides = []
    for spec, long in zip(table.sections, longs):
        wide = wide_table(long, spec)
        if len(table.sections) > 1:
            wide.insert(0, "table", spec.name)
        wides.append(wide)
    return pd.concat(wides, ignore_index=True).to_csv(index=False, float_format="%.6g")


def write_table(scores, table: Table, csv_path, md_path, tex_path=None) -> str:
    """Write the CSV, Markdown and (optionally) LaTeX of a table; returns the Markdown."""
    from debiaslab.core.io import write_text

    longs = build(scores, table)
    write_text(csv_path, csv_text(table, longs))
    text = markdown(table, longs)
    write_text(md_path, text)
    if tex_path:
        write_text(tex_path, latex(table, longs))
    return text
