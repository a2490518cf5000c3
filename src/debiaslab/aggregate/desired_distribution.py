"""The `desired_distribution` table: KL before/after mitigation, % reduction, utility before/after.

TableSpec shows one value per metric and row; this table pairs every mitigated run with the
model's `base` run ("before", scored once at the first seed): per model × method × split ×
prof_gender category, the KL to the method's target distribution before and after, and
change % = 100 · (after − before) / before per seed, then mean ± sample std over seeds.
The Markdown shows the KL change as a reduction (−change %). Utility rows do the same for every
evaluation row of the runs (`evaluations`: perplexity / MLM loss on an external corpus, GLUE, ...;
subset "all"); whether a rise is worse depends on the metric.
"""

from __future__ import annotations

TARGET = {"kl_equal": "equal", "kl_real_world": "real_world"}
CATEGORIES = ("all", "male_dominated", "balanced", "female_dominated")
DETECTION_PREFIXES = ("kl_", "p_male")  # the scoring job's metrics; every other metric is utility
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
        utility = after[(after["subset"] == "all") & ~after["metric"].str.startswith(DETECTION_PREFIXES)
                        & ~after["metric"].str.endswith("nll_per_token")]  # (perplexity = exp of it)
        corpora = utility[["split", "metric"]].drop_duplicates()
        for split, metric in corpora.itertuples(index=False):
            rows.append(_row("utility", model, method, target, split, "all", metric,
                             _values(before, split, "all", metric), _values(after, split, "all", metric)))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _num(x: float, decimals: int) -> str:
    """Fixed decimals, or 3 significant digits where fixed decimals would show nothing (a tiny KL)."""
    return f"{x:.{decimals}f}" if x == 0 or abs(x) >= 10 ** -decimals else f"{x:.2e}"


def _sections(table, decimals: int) -> list[tuple[str, list[str], list[list[str]]]]:
    """(caption, header, rows of cells) of the bias section and, if any, the utility section."""
    fmt = lambda m, s: "–" if m != m else f"{_num(m, decimals)} ± {_num(s, decimals)}"  # noqa: E731
    pct = lambda m, s: "–" if m != m else f"{m:.1f} ± {s:.1f}"  # noqa: E731
    bias = table[table["kind"] == "bias"]
    sections = [(
        "Desired distribution: KL(desired ‖ model) in nats — the true KL; the source's `batchmean` values are half "
        "of it — over the occupations of a split, by prof_gender category, before (base model) and after "
        "mitigation toward the method's target (equal = [0.5, 0.5]; real_world = BLS 2024 shares). "
        "Reduction % = 100 · (before − after) / before per seed. Cells: mean ± sample std over seeds "
        "(before: the base model, scored once).",
        ["model", "method", "target", "split", "category", "KL before", "KL after", "reduction %", "seeds"],
        [[r.model, r.method, r.target, r.split, r.subset, fmt(r.before, r.before_std), fmt(r.after, r.after_std),
          pct(-r.change_pct, r.change_pct_std), str(r.n_seeds)] for r in bias.itertuples(index=False)],
    )]
    utility = table[table["kind"] == "utility"]
    if len(utility):
        sections.append((
            "Utility (the experiment's evaluations): perplexity (causal LMs: token-weighted), pseudo-perplexity and "
            "MLM loss (15 % of tokens masked, the same masks before and after) — lower is better; GLUE / MMLU "
            "scores — higher is better. Change % = 100 · (after − before) / before; split = the evaluation's data "
            "split (the corpus).",
            ["model", "method", "split", "metric", "before", "after", "change %", "seeds"],
            [[r.model, r.method, r.split, r.metric, fmt(r.before, r.before_std), fmt(r.after, r.after_std),
              pct(r.change_pct, r.change_pct_std), str(r.n_seeds)] for r in utility.itertuples(index=False)],
        ))
    return sections


def markdown(table, decimals: int) -> str:
    blocks = []
    for caption, header, rows in _sections(table, decimals):
        lines = [caption, "", "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _tex(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"), ("±", r"$\pm$"),
                 ("‖", r"$\Vert$"), ("·", r"$\cdot$"), ("−", "-"), ("–", "--"), ("`", "")):
        text = text.replace(a, b)
    return text


def latex(table, decimals: int) -> str:
    """One booktabs table per section, the same cells as the Markdown."""
    out = []
    for i, (caption, header, rows) in enumerate(_sections(table, decimals)):
        n_keys = len(header) - 4  # the last four columns are numbers
        lines = [r"\begin{table}[t]", r"\centering", r"\small",
                 r"\begin{tabular}{" + "l" * n_keys + "r" * (len(header) - n_keys) + "}", r"\toprule",
                 " & ".join(_tex(h) for h in header) + r" \\", r"\midrule"]
        lines += [" & ".join(_tex(c) for c in cells) + r" \\" for cells in rows]
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{_tex(caption)}}}",
                  rf"\label{{tab:desired_distribution{'_utility' if i else ''}}}", r"\end{table}"]
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def write_table(scores, settings: dict, csv_path, md_path, tex_path=None) -> int:
    from debiaslab.io import write_text

    table = summary_table(scores, settings)
    write_text(csv_path, table.to_csv(index=False, float_format="%.6g"))
    write_text(md_path, markdown(table, settings.get("decimals", 3)))
    if tex_path:
        write_text(tex_path, latex(table, settings.get("decimals", 3)))
    return len(table)
