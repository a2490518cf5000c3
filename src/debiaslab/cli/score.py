"""`debiaslab score run`: one run's metrics into the score store (plus per-item records), by the
experiment's scoring entry (its `scoring`, experiments/<name>/experiment.py)."""

from __future__ import annotations

from debiaslab.cli.args import json_object, model, run, settings


def score_run(a):
    from debiaslab.experiments.base import ScoreJob, load
    from debiaslab.experiments.registry import get

    experiment = get(a.experiment)
    job = ScoreJob(
        run=a.run,
        settings=a.settings,
        inputs=a.inputs,
        arguments=a.arguments,
        model=a.model,
        scores=a.scores,
        records=a.records,
    )
    return load(experiment.scoring.entry)(job)


def add_commands(sub) -> None:
    sc = sub.add_parser(
        "score",
        help="score a run into the tidy score store",
        description="Compute an experiment's metrics for one run and write score-store rows (plus per-item records).",
    )
    scs = sc.add_subparsers(dest="what", required=True, metavar="<what>")
    s = scs.add_parser(
        "run",
        help="score one run with its experiment's scoring (docs/experiments/<experiment>.md#metrics)",
        description="occupations: agentic/communal balance of the responses; reward_guided: sample the MCQ "
        "evaluation prompts per grid cell, GenBit, pronoun rates, KL, reward; rm_forget: the λ sweep; safety: "
        "bias classifier and reward model per response; desired_distribution: KL to the desired distributions.",
    )
    s.add_argument("--experiment", required=True)
    run(s)
    settings(s, "the experiment's scoring slice")
    s.add_argument(
        "--inputs", type=json_object, required=True, metavar="JSON", help="name -> file (or files) the scoring reads"
    )
    s.add_argument(
        "--arguments", type=json_object, default={}, metavar="JSON", help="more the scoring needs (e.g. grid cells)"
    )
    model(s, required=False)
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.add_argument("--records", required=True, help="per-item records Parquet file")
    s.set_defaults(func=score_run)
