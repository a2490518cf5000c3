"""The `desired_distribution` table: KL before/after mitigation, % reduction, utility before/after.

TableSpec shows one value per metric and row; this table pairs every mitigated run with the
model's `base` run ("before", scored once at the first seed): per model × method × split ×
prof_gender category, the KL to the method's target distribution before and after, and
change % = 100 · (after − before) / before per seed, then mean ± sample std over seeds.
The Markdown shows the KL change as a reduction (−change %). Utility rows do the same for
perplexity / MLM loss on every external corpus (a positive change = worse).
"""

from __future__ import annotations

TARGET = {"kl_equal": "equal", "kl_real_world": "real_world"}
CATEGORIES = ("all", "male_dominated", "balanced", "female_dominated")
UTILITY = ("perplexity", "mlm_loss")
COLUMNS = ("kind", "model", "method", "target", "split", "subset", "metric", "before", "before_std",
           "after", "after_std", "change_pct", "change_pct_std", "n_seeds")


def _values(frame, split, subset, metric):
    hit = frame[(frame["split"] == split) & (frame["subset"] == subset) & (frame["metric"] == metric)]
    return hit.set_index("seed")["value"]


def _row(kind, model, method, target, split, subset, metric, before, after) -> dict:
    import numpy as np

    b = float(before.mean()) if len(before) else float("nan")
    change = 100.0 * (after - b) / b if b == b and b != 0 else after * float("nan")
    std = lambda s: float(s.std(ddof=1)) if len(s) > 1 else 0.0  # noqa: E731 - one seed: no spread
    return {"kind": kind, "model": model, "method": method, "target": target, "split": split, "subset": subset,
            "metric": metric, "before": b, "before_std": std(before), "after": float(after.mean()) if len(after) else np.nan,
            "after_std": std(after), "change_pct": float(change.mean()) if len(change) else np.nan,
            "change_pct_std": std(change), "n_seeds": int(len(after))}


def summary_table(scores, settings: dict):
    """The long-format table (one row per model, method, split/corpus, category/metric)."""
    import pandas as pd

    from debiaslab.config import ConfigError

    scores = scores[scores["experiment"] == "desired_distribution"]
    order = {m: i for i, m in enumerate(settings.get("method_order", ()))}
    splits = list(settings.get("splits", ["test"]))
    base = scores[scores["method"] == "base"]
    rows = []
    runs = scores[scores["method"] != "base"][["model", "method"]].drop_duplicates()
    runs = runs.assign(_o=runs["method"].map(lambda m: order.get(m, len(order)))).sort_values(["_o"], kind="stable")
    for model, method in runs[["model", "method"]].itertuples(index=False):
        if method not in TARGET:
            raise ConfigError(f"desired_distribution table: method {method!r} has no target; known {sorted(TARGET)}")
        target = TARGET[method]
        before = base[base["model"] == model]
        after = scores[(scores["model"] == model) & (scores["method"] == method)]
        for split in splits:
            for subset in CATEGORIES:
                metric = f"kl_{target}_mean"
                rows.append(_row("bias", model, method, target, split, subset, "kl",
                                 _values(before, split, subset, metric), _values(after, split, subset, metric)))
        corpora = after[after["metric"].isin(UTILITY)][["split", "metric"]].drop_duplicates()
        for split, metric in corpora.itertuples(index=False):
            rows.append(_row("utility", model, method, target, split, "all", metric,
                             _values(before, split, "all", metric), _values(after, split, "all", metric)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _num(x: float, decimals: int) -> str:
    """Fixed decimals, or 3 significant digits where fixed decimals would show nothing (a tiny KL)."""
    return f"{x:.{decimals}f}" if x == 0 or abs(x) >= 10 ** -decimals else f"{x:.2e}"


def markdown(table, decimals: int) -> str:
    fmt = lambda m, s: "–" if m != m else f"{_num(m, decimals)} ± {_num(s, decimals)}"  # noqa: E731
    pct = lambda m, s: "–" if m != m else f"{m:.1f} ± {s:.1f}"  # noqa: E731
    bias = table[table["kind"] == "bias"]
    lines = [
        "Desired distribution: KL(desired ‖ model) in nats — the true KL; the source's `batchmean` values are half "
        "of it — over the occupations of a split, by prof_gender category, before (base model) and after "
        "mitigation toward the method's target (equal = [0.5, 0.5]; real_world = BLS 2024 shares). "
        "Reduction % = 100 · (before − after) / before per seed. Cells: mean ± sample std over seeds "
        "(before: the base model, scored once).",
        "",
        "| model | method | target | split | category | KL before | KL after | reduction % | seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in bias.itertuples(index=False):
        lines.append(f"| {r.model} | {r.method} | {r.target} | {r.split} | {r.subset} | {fmt(r.before, r.before_std)} "
                     f"| {fmt(r.after, r.after_std)} | {pct(-r.change_pct, r.change_pct_std)} | {r.n_seeds} |")
    utility = table[table["kind"] == "utility"]
    if len(utility):
        lines += [
            "",
            "Utility on external corpora: perplexity (causal LMs: token-weighted; masked LMs: pseudo-perplexity) "
            "and MLM loss (15 % of tokens masked, fixed masks); change % = 100 · (after − before) / before "
            "(positive = worse).",
            "",
            "| model | method | corpus | metric | before | after | change % | seeds |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in utility.itertuples(index=False):
            lines.append(f"| {r.model} | {r.method} | {r.split} | {r.metric} | {fmt(r.before, r.before_std)} "
                         f"| {fmt(r.after, r.after_std)} | {pct(r.change_pct, r.change_pct_std)} | {r.n_seeds} |")
    return "\n".join(lines) + "\n"


def write_table(scores, settings: dict, csv_path, md_path) -> int:
    from debiaslab.io import write_text

    table = summary_table(scores, settings)
    write_text(csv_path, table.to_csv(index=False, float_format="%.6g"))
    write_text(md_path, markdown(table, settings.get("decimals", 3)))
    return len(table)
