"""What a table or figure reads must be complete: every run the config defines, with its scores.

A score file that is empty, or labelled with another experiment or run, used to be dropped by the
table's filters: the table then averaged fewer seeds than the config has and said nothing. Here each
file is read with the run the workflow expects it to hold (the rules pass `--runs` in `--scores` order)
and refused, naming the file, unless it has rows, all of that run; a run scored per grid cell
(reward_guided) must also have every cell of its method (`--cells`: method -> the cells' store labels).
"""

from __future__ import annotations


def read_complete(experiment: str | None, paths, runs=None, cells: dict | None = None):
    """The score files concatenated (core.store.read_scores), once each is non-empty and holds the
    experiment's rows only (`experiment` None: the runs' experiment, if given) — and, where `runs` is
    given, exactly its run's rows (and `cells`' cells)."""
    import pandas as pd

    from debiaslab.core.io import DataError
    from debiaslab.core.store import read_scores

    paths = list(paths)
    if not paths:
        raise DataError("no score files given")
    if runs is not None and len(runs) != len(paths):
        raise DataError(f"--runs: {len(runs)} runs for {len(paths)} score files; give one run per file, in order")
    frames = []
    for i, path in enumerate(paths):
        frame = read_scores([path])
        if frame.empty:
            raise DataError(f"{path}: no score rows (an empty score file); rerun the job that writes it")
        labels = _labels(frame, ("experiment",))
        expected_experiment = experiment or (runs[i].experiment if runs else None)
        if expected_experiment is not None and labels != [(expected_experiment,)]:
            raise DataError(f"{path}: rows of experiment {_show(labels)}, expected {expected_experiment!r} only")
        if runs is not None:
            run = runs[i]
            expected = (run.experiment, run.model, run.method, int(run.seed))
            found = _labels(frame, ("experiment", "model", "method", "seed"))
            if found != [expected]:
                raise DataError(f"{path}: rows of run(s) {_show(found)}, expected {'/'.join(map(str, expected))} only")
            if cells is not None and run.method in cells:
                missing = sorted(set(cells[run.method]) - set(frame["split"]))
                if missing:
                    raise DataError(
                        f"{path}: no scores for grid cell(s) {missing} of run {'/'.join(map(str, expected))}"
                    )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _labels(frame, columns) -> list[tuple]:
    rows = frame[list(columns)].drop_duplicates()
    return sorted(
        tuple(int(v) if c == "seed" else v for c, v in zip(columns, row)) for row in rows.itertuples(index=False)
    )


def _show(labels: list[tuple]) -> str:
    shown = ", ".join("/".join(map(str, label)) for label in labels[:3])
    return shown + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
