"""Stage entries for tables and figures: score-store files in, CSV/Markdown/LaTeX or PNG/PDF out. The table's
spec and the figure's plot are the experiment's (the CLI looks them up in the experiment registry)."""

from __future__ import annotations


def build_table(table, score_paths, csv_out, md_out, tex_out=None, runs=None, cells=None, source: str = "") -> dict:
    """`table`: an aggregate.tables.Table; `source`: the config that made the scores (its name)."""
    from dataclasses import replace

    from debiaslab.aggregate.completeness import read_complete
    from debiaslab.aggregate.tables import write_table

    # a table across experiments (the bias suite) checks each file against its run instead
    single = all(spec.experiment == table.experiment for spec in table.sections)
    scores = read_complete(table.experiment if single else None, score_paths, runs, cells)
    write_table(scores, replace(table, source=source), csv_out, md_out, tex_out)
    return {"score_files": len(score_paths), "rows": len(scores)}


def build_figure(name: str, plot, score_paths, out_png, out_pdf, runs=None, cells=None) -> dict:
    """`plot`: (scores, png, pdf) -> None, the figure's settings already bound."""
    from debiaslab.aggregate.completeness import read_complete

    scores = read_complete(None, score_paths, runs, cells)
    plot(scores, out_png, out_pdf)
    return {"figure": name, "score_files": len(score_paths)}
