"""Grid cells as table rows: a run scored per cell (reward_guided: dataset size n × temperature T) stores
each cell's rows with the cell's label as `split` (core.store.cell_label); tables and the bias suite show
the cell as row keys."""

from __future__ import annotations

CELL_KEYS = ("size", "temperature")


def cell_frame(scores):
    """Score rows with the grid cell parsed from `split` into size and temperature."""
    from debiaslab.core.store import parse_cell_label

    frame = scores[scores["subset"] == "all"].copy()
    cells = [parse_cell_label(s) for s in frame["split"]]
    frame["size"] = [c[0] for c in cells]
    frame["temperature"] = [c[1] for c in cells]
    return frame
