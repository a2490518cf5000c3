"""Stage entry for tables: score-store files in, CSV + Markdown out."""

from __future__ import annotations


def build_table(experiment: str, score_paths, settings: dict, csv_out, md_out) -> dict:
    from debiaslab.aggregate.specs import table_spec
    from debiaslab.aggregate.store import read_scores
    from debiaslab.aggregate.tables import write_table

    scores = read_scores(score_paths)
    spec = table_spec(experiment, settings)
    if experiment == "reward_guided":  # grid cells with Δ vs base paired by seed: its own builder
        from debiaslab.aggregate.reward_guided import write_table as write_reward_guided_table

        write_reward_guided_table(scores, spec, csv_out, md_out)
        return {"score_files": len(score_paths), "rows": len(scores)}
    write_table(scores, spec, csv_out, md_out)
    return {"score_files": len(score_paths), "rows": len(scores)}
