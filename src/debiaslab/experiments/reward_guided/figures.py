"""`reward_guided`'s training-curve figure.

It plots the per-step training metrics (loss, mean bias, mean KL, mean reward) that
every trainer writes to `<adapter>/training_metrics.csv` — not the score store: mean over
seeds, band = min–max over seeds.
"""

from __future__ import annotations

import re
from pathlib import Path

RUN_PATH = re.compile(
    r"(?P<model>[^/]+)/(?P<method>[a-z_]+)/seed~(?P<seed>\d+)/size~(?P<size>\d+)/"
    r"temperature~(?P<temperature>[0-9.]+)/adapter/?$"
)
CURVE_PANELS = (
    ("loss", "loss"),
    ("mean_bias", "mean |GenBit avg_bias_ratio|"),
    ("mean_kl", "mean token KL to base"),
    ("mean_reward", "mean reward"),
)


def read_curves(adapters) -> object:
    """Every run's training_metrics.csv, tagged with model, method, seed, size and temperature from its path."""
    import pandas as pd

    from debiaslab.core.io import DataError

    frames = []
    for adapter in adapters:
        m = RUN_PATH.search(str(Path(adapter).as_posix()))
        if not m:
            raise DataError(
                f"{adapter}: not a reward_guided adapter path (<model>/<method>/seed~S/size~N/temperature~T/adapter)"
            )
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
    from debiaslab.aggregate.plotting import pyplot, save
    from debiaslab.core.io import write_text

    plt = pyplot()

    curves = read_curves(adapters)
    write_text(csv_out, curves.to_csv(index=False, float_format="%.6g"))
    fig, axes = plt.subplots(1, len(CURVE_PANELS), figsize=(4 * len(CURVE_PANELS), 3.4), constrained_layout=True)
    groups = curves.groupby(["model", "method", "size", "temperature"], sort=True)
    for (model, method, size, temperature), part in groups:
        label = f"{model} {method} n={size} T={temperature:g}"
        stats = part.groupby("step")
        for ax, (column, title) in zip(axes, CURVE_PANELS):
            mean = stats[column].mean()
            (line,) = ax.plot(mean.index, mean.values, label=label, lw=1.5)
            ax.fill_between(
                mean.index,
                stats[column].min().values,
                stats[column].max().values,
                color=line.get_color(),
                alpha=0.15,
                lw=0,
            )
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("step")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle("reward_guided training curves (mean over seeds, band = min–max)", fontsize=10)
    save(fig, png_out, dpi=120)
    plt.close(fig)
    return {
        "runs": int(curves.groupby(["model", "method", "seed", "size", "temperature"]).ngroups),
        "rows": len(curves),
    }


def caption(settings: dict, baseline: dict) -> str:
    return (
        "reward_guided training curves: " + ", ".join(title for _, title in CURVE_PANELS) + " per step, "
        "read from each run's adapter/training_metrics.csv (not the score store); one line per grid cell "
        "(model, method, n, T): mean over seeds, band = min–max over seeds."
    )
