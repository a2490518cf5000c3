"""Stage entry for tables: score-store files in, CSV + Markdown out."""

from __future__ import annotations


def build_table(experiment: str, score_paths, settings: dict, csv_out, md_out) -> dict:
    from debiaslab.aggregate.specs import table_spec
    from debiaslab.aggregate.store import read_scores
    from debiaslab.aggregate.tables import write_table

    scores = read_scores(score_paths)
    spec = table_spec(experiment, settings)
    if experiment == "rm_forget":  # each λ of a sweep is a subset: make λ a row key (aggregate/rm_forget.py)
        from debiaslab.aggregate.rm_forget import curve_scores

        scores = curve_scores(scores)
    write_table(scores, spec, csv_out, md_out)
    return {"score_files": len(score_paths), "rows": len(scores)}


def build_figure(experiment: str, score_paths, settings: dict, png_out, pdf_out) -> dict:
    """An experiment's figure (PNG + PDF) from score-store files."""
    from debiaslab.aggregate.store import read_scores

    scores = read_scores(score_paths)
    if experiment == "rm_forget":
        from debiaslab.aggregate.rm_forget import write_curve_figure

        write_curve_figure(scores, settings, png_out, pdf_out)
        return {"score_files": len(score_paths), "rows": len(scores)}
    raise KeyError(f"no figure is defined for experiment {experiment!r}")
