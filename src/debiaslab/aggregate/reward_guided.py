"""`reward_guided`'s table and training-curve figure.

The table needs a shape the generic TableSpec cannot express: rows are grid cells (model,
method, dataset size n, temperature T; the base model is n = 0), and each trained cell is
compared with the base at the same T *paired by seed* (Δ columns: the after − before change
the study is about). It still reads only the score store, and takes its metric labels from
the experiment's TableSpec (aggregate.specs).

The figure plots the per-step training metrics (loss, mean bias, mean KL, mean reward) that
every trainer writes to `<adapter>/training_metrics.csv`: mean over seeds, min–max band.
"""

from __future__ import annotations

import re
from pathlib import Path

RUN_PATH = re.compile(r"(?P<model>[^/]+)/(?P<method>[a-z_]+)/seed~(?P<seed>\d+)/size~(?P<size>\d+)/"
                      r"temperature~(?P<temperature>[0-9.]+)/adapter/?$")
DELTA_METRICS = ("gendered_pronoun_rate", "neutral_option_rate", "mean_reward", "genbit_score")
CURVE_PANELS = (("loss", "loss"), ("mean_bias", "mean |GenBit avg_bias_ratio|"), ("mean_kl", "mean token KL to base"),
                ("mean_reward", "mean reward"))


def cell_frame(scores, experiment: str = "reward_guided"):
    """Score rows of the experiment with the grid cell parsed from `split` into size and temperature."""
    from debiaslab.metrics.reward_guided import parse_cell_label

    frame = scores[(scores["experiment"] == experiment) & (scores["subset"] == "all")].copy()
    cells = [parse_cell_label(s) for s in frame["split"]]
    frame["size"] = [c[0] for c in cells]
    frame["temperature"] = [c[1] for c in cells]
    return frame


def summary_table(scores, spec):
    """One row per (model, method, size, temperature): mean, std over seeds per metric, Δ vs base, n seeds."""
    import pandas as pd

    frame = cell_frame(scores, spec.experiment)
    keys = ["model", "method", "size", "temperature"]
    wide = frame.pivot_table(index=keys + ["seed"], columns="metric", values="value", aggfunc="first")
    base = wide.xs("base", level="method", drop_level=False) if "base" in wide.index.get_level_values("method") else None
    rows = []
    for key, part in wide.groupby(level=keys, sort=False):
        row = dict(zip(keys, key))
        for metric, label in spec.metrics.items():
            values = part[metric].dropna() if metric in part else pd.Series(dtype=float)
            row[f"{label} mean"] = float(values.mean()) if len(values) else float("nan")
            row[f"{label} std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        if "genbit_identity_lemmatizer" in part:
            flags = set(part["genbit_identity_lemmatizer"].dropna())
            row["lemmatizer"] = "/".join(sorted({1.0: "identity", 0.0: "stanza"}[f] for f in flags)) or "–"
        for metric in DELTA_METRICS:
            label = f"Δ {spec.metrics.get(metric, metric)}"
            diffs = _paired_deltas(part, base, key, metric) if row["method"] != "base" else []
            row[f"{label} mean"] = float(pd.Series(diffs).mean()) if diffs else float("nan")
            row[f"{label} std"] = float(pd.Series(diffs).std(ddof=1)) if len(diffs) > 1 else (0.0 if diffs else float("nan"))
        row["n seeds"] = len(part)
        rows.append(row)
    table = pd.DataFrame(rows)
    rank = {m: i for i, m in enumerate(spec.method_order)}
    table["_m"] = table["method"].map(lambda m: rank.get(m, len(rank)))
    return table.sort_values(["model", "_m", "size", "temperature"], kind="stable").drop(columns="_m").reset_index(drop=True)


def _paired_deltas(part, base, key, metric) -> list[float]:
    """after − before per seed: the trained cell minus the base at the same model, temperature and seed."""
    if base is None or metric not in part:
        return []
    model, _, _, temperature = key
    out = []
    for (_, _, _, _, seed), value in part[metric].items():
        hit = base[(base.index.get_level_values("model") == model)
                   & (base.index.get_level_values("temperature") == temperature)
                   & (base.index.get_level_values("seed") == seed)]
        if len(hit) and metric in hit:
            out.append(float(value) - float(hit[metric].iloc[0]))
    return out


def markdown(table, spec) -> str:
    fmt = f"{{:.{spec.decimals}f}}"
    labels = list(spec.metrics.values()) + [f"Δ {spec.metrics.get(m, m)}" for m in DELTA_METRICS]
    head = ["model", "method", "n", "T"] + labels + ["lemmatizer", "n seeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, row in table.iterrows():
        cells = [str(row["model"]), str(row["method"]), str(int(row["size"])), f"{row['temperature']:g}"]
        for label in labels:
            mean, std = row[f"{label} mean"], row[f"{label} std"]
            cells.append("–" if mean != mean else f"{fmt.format(mean)} ± {fmt.format(std)}")
        cells += [str(row.get("lemmatizer", "–")), str(row["n seeds"])]
        lines.append("| " + " | ".join(cells) + " |")
    caption = (spec.caption + " Δ: trained minus base at the same temperature, paired by seed. "
               "Cells: mean ± sample std over seeds.")
    return f"{caption}\n\n" + "\n".join(lines) + "\n"


def write_table(scores, spec, csv_out, md_out, tex_out=None) -> None:
    import dataclasses

    from debiaslab.aggregate.tables import latex
    from debiaslab.io import write_text

    table = summary_table(scores, spec)
    write_text(csv_out, table.to_csv(index=False, float_format="%.6g"))
    write_text(md_out, markdown(table, spec))
    if tex_out:
        labels = {label: label for label in list(spec.metrics.values())
                  + [f"Δ {spec.metrics.get(m, m)}" for m in DELTA_METRICS]}
        grid = dataclasses.replace(spec, metrics=labels, row_keys=("model", "method", "size", "temperature"),
                                   markdown_metrics=None, key_metrics=(), baseline_method=None)
        write_text(tex_out, latex(table, grid))


def read_curves(adapters) -> "object":
    """Every run's training_metrics.csv, tagged with model, method, seed, size and temperature from its path."""
    import pandas as pd

    from debiaslab.io import DataError

    frames = []
    for adapter in adapters:
        m = RUN_PATH.search(str(Path(adapter).as_posix()))
        if not m:
            raise DataError(f"{adapter}: not a reward_guided adapter path "
                            "(<model>/<method>/seed~S/size~N/temperature~T/adapter)")
        path = Path(adapter) / "training_metrics.csv"
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        frame = pd.read_csv(path)
        for k, v in m.groupdict().items():
            frame.insert(0, k, int(v) if k in ("seed", "size") else (float(v) if k == "temperature" else v))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_curves(adapters, png_out, csv_out) -> dict:
    """Stage entry: all training curves as one CSV, and the figure (one line per cell, mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from debiaslab.io import atomic_path, write_text

    curves = read_curves(adapters)
    write_text(csv_out, curves.to_csv(index=False, float_format="%.6g"))
    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(4 * len(CURVE_PANELS), 3.4), constrained_layout=True)
    groups = curves.groupby(["model", "method", "size", "temperature"], sort=True)
    for (model, method, size, temperature), part in groups:
        label = f"{model} {method} n={size} T={temperature:g}"
        stats = part.groupby("step")
        for ax, (column, title) in zip(axes, CURVE_PANELS):
            mean = stats[column].mean()
            line, = ax.plot(mean.index, mean.values, label=label, lw=1.5)
            ax.fill_between(mean.index, stats[column].min().values, stats[column].max().values,
                            color=line.get_color(), alpha=0.15, lw=0)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("step")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("reward_guided training curves (mean over seeds, band = min–max)", fontsize=10)
    with atomic_path(png_out) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return {"runs": int(curves.groupby(["model", "method", "seed", "size", "temperature"]).ngroups),
            "rows": len(curves)}
