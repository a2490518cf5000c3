"""Stage entries for tables and figures: score-store files in, CSV/Markdown/LaTeX or PNG/PDF out."""

from __future__ import annotations


def build_table(
    experiment: str, score_paths, settings: dict, csv_out, md_out, tex_out=None, runs=None, cells=None
) -> dict:
    from debiaslab.aggregate.completeness import read_complete
    from debiaslab.aggregate.specs import table_spec
    from debiaslab.aggregate.tables import write_table

    table = table_spec(experiment, settings)
    # a table across experiments (the bias suite) checks each file against its run instead
    single = all(spec.experiment == table.experiment for spec in table.sections)
    scores = read_complete(experiment if single else None, score_paths, runs, cells)
    write_table(scores, table, csv_out, md_out, tex_out)
    return {"score_files": len(score_paths), "rows": len(scores)}


def build_figure(name: str, score_paths, settings: dict, out_png, out_pdf, runs=None, cells=None) -> dict:
    from debiaslab.aggregate import figures
    from debiaslab.aggregate.completeness import read_complete

    if name not in figures.FIGURES:
        from debiaslab.core.config import ConfigError

        raise ConfigError(f"unknown figure {name!r}; known: {', '.join(sorted(figures.FIGURES))}")
    scores = read_complete(None, score_paths, runs, cells)
    figures.FIGURES[name](scores, settings, out_png, out_pdf)
    return {"figure": name, "score_files": len(score_paths)}
