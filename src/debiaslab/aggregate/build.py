"""Stage entry for tables: score-store files in, CSV + Markdown out."""

from __future__ import annotations


def build_table(experiment: str, score_paths, settings: dict, csv_out, md_out) -> dict:
    from debiaslab.aggregate.specs import table_spec
    from debiaslab.aggregate.store import read_scores
    from debiaslab.aggregate.tables import write_table

    scores = read_scores(score_paths)
    if experiment == "desired_distribution":  # before/after pairs with % reduction: its own builder
        from debiaslab.aggregate.desired_distribution import write_table as write_desired_distribution

        rows = write_desired_distribution(scores, settings, csv_out, md_out)
        return {"score_files": len(score_paths), "rows": len(scores), "table_rows": rows}
    spec = table_spec(experiment, settings)
    write_table(scores, spec, csv_out, md_out)
    return {"score_files": len(score_paths), "rows": len(scores)}
