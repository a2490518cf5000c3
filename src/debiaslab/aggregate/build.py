"""Stage entries for tables and figures: score-store files in, CSV/Markdown/LaTeX or PNG/PDF out."""

from __future__ import annotations


def build_table(experiment: str, score_paths, settings: dict, csv_out, md_out, tex_out=None, runs=None,
                cells=None) -> dict:
    from debiaslab.aggregate.completeness import read_complete
    from debiaslab.aggregate.specs import table_spec
    from debiaslab.aggregate.tables import write_table

    scores = read_complete(experiment, score_paths, runs, cells)
    if experiment == "desired_distribution":  # before/after pairs with % reduction: its own builder
        from debiaslab.aggregate.desired_distribution import write_table as write_desired_distribution

        rows = write_desired_distribution(scores, settings, csv_out, md_out, tex_out)
        return {"score_files": len(score_paths), "rows": len(scores), "table_rows": rows}
    spec = table_spec(experiment, settings)
    if experiment == "reward_guided":  # grid cells with Δ vs base paired by seed: its own builder
        from debiaslab.aggregate.reward_guided import write_table as write_reward_guided_table

        write_reward_guided_table(scores, spec, csv_out, md_out, tex_out)
        return {"score_files": len(score_paths), "rows": len(scores)}
    if experiment == "rm_forget":  # each λ of a sweep is a subset: make λ a row key (aggregate/rm_forget.py)
        from debiaslab.aggregate.rm_forget import curve_scores

        scores = curve_scores(scores)
    write_table(scores, spec, csv_out, md_out, tex_out)
    return {"score_files": len(score_paths), "rows": len(scores)}


def build_figure(name: str, score_paths, settings: dict, out_png, out_pdf, runs=None, cells=None) -> dict:
    from debiaslab.aggregate import figures
    from debiaslab.aggregate.completeness import read_complete

    if name not in figures.FIGURES:
        from debiaslab.config import ConfigError

        raise ConfigError(f"unknown figure {name!r}; known: {', '.join(sorted(figures.FIGURES))}")
    scores = read_complete(None, score_paths, runs, cells)
    figures.FIGURES[name](scores, settings, out_png, out_pdf)
    return {"figure": name, "score_files": len(score_paths)}
