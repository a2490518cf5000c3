"""matplotlib without a display, and figures saved atomically with no dates in their metadata."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, *paths, dpi: int = 150) -> None:
    """Each path in the format its suffix names, written atomically; metadata without dates or versions keeps
    the files byte-identical across runs."""
    from debiaslab.core.io import atomic_path

    for path in paths:
        fmt = Path(path).suffix.lstrip(".")
        with atomic_path(path) as tmp:
            fig.savefig(
                tmp,
                format=fmt,
                bbox_inches="tight",
                dpi=dpi,
                metadata={"CreationDate": None} if fmt == "pdf" else {"Software": None},
            )
