"""`safety`'s results table: one row per model × method × bias type (the store's `split` holds the bias type)."""

from __future__ import annotations

from debiaslab.aggregate.tables import Table, experiment_spec

METRICS = {"rm_score": "RM score", "bias_type_score": "bias score"}


def table(settings: dict, baseline: dict) -> Table:
    return Table(
        "safety",
        (
            experiment_spec(
                "safety",
                settings,
                3,
                ranges={"bias_type_score": (0.0, 1.0)},
                metrics=METRICS,
                baseline=baseline,
                key_metrics=("rm_score", "bias_type_score"),
                paper=("rm_score", "bias_type_score"),
                paper_delta=("rm_score",),
                items="responses",
                caption=(
                    "Safety: mean reward-model score (logit on prompt + response) and mean bias-classifier probability "
                    "of the prompt's bias type, per response; split = bias prompt set."
                ),
            ),
        ),
    )
