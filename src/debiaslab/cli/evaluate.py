"""`debiaslab evaluate <kind>`: capability and bias evaluations of a run's model or responses."""

from __future__ import annotations

from debiaslab.cli.args import RUN_METAVAR, json_list, model, run, run_id, settings
from debiaslab.evals.registry import MODEL_EVALUATIONS


def model_evaluation(a):
    from debiaslab.evals.run import evaluate_cells, evaluate_model
    from debiaslab.models import apply_trained

    if a.cells is not None:
        return evaluate_cells(a.evaluation, a.model, a.settings, a.run, a.out, a.cells)
    spec, adapter = apply_trained(a.model, a.trained, a.adapter)
    return evaluate_model(
        a.evaluation, spec, a.settings, a.run, a.out, adapter=adapter, projection=a.projection, records_out=a.records
    )


def fluency(a):
    from debiaslab.evals.fluency import evaluate_responses

    return evaluate_responses(a.reference, a.settings, a.responses, a.runs, a.scores)


def lm_eval(a):
    from debiaslab.evals.lm_eval_bridge import evaluate
    from debiaslab.models import apply_trained

    spec, adapter = apply_trained(a.model, a.trained, a.adapter)
    return evaluate(spec, a.settings, a.run, a.json, a.scores, adapter=adapter, projection=a.projection)


def add_commands(sub) -> None:
    ev = sub.add_parser(
        "evaluate",
        help="capability and bias evaluations (MMLU, GLUE, perplexity, CrowS-Pairs, "
        "the bias suite, fluency, lm-eval) into the score store",
        description="Evaluate a run's model (base + the method's adapter or projection), or a run's "
        "responses, and write score-store rows.",
    )
    evs = ev.add_subparsers(dest="evaluation_kind", required=True, metavar="<kind>")
    s = evs.add_parser("model", help="one named evaluation of a model: " + ", ".join(MODEL_EVALUATIONS))
    s.add_argument("--evaluation", required=True, choices=MODEL_EVALUATIONS)
    model(s)
    s.add_argument("--adapter", default=None, help="PEFT adapter directory to apply")
    s.add_argument("--projection", default=None, help="INLP projection directory to apply as an LM-head hook")
    s.add_argument(
        "--trained", default=None, help="a method's trained folder: a complete fine-tuned model, or an adapter"
    )
    settings(s, "the evaluation's config slice (evaluations.<name>)")
    run(s)
    s.add_argument("--out", required=True, help="score-store Parquet file")
    s.add_argument(
        "--records", default=None, help="also write per-item records (questions, pairs) to this Parquet file"
    )
    s.add_argument(
        "--cells",
        type=json_list,
        default=None,
        metavar="JSON",
        help='a run with one adapter per grid cell (reward_guided): [{"label": ..., "adapter": dir or null}, ...]; '
        "each cell's rows get its label as split",
    )
    s.set_defaults(func=model_evaluation)
    s = evs.add_parser("fluency", help="perplexity of every run's responses under one reference LM")
    s.add_argument("--reference", required=True, metavar="SPEC", help="the reference LM (name, path or JSON spec)")
    settings(s, "evaluations.fluency (text, batch_size, max_length)")
    s.add_argument("--responses", nargs="+", required=True, help="responses Parquet files, one per run")
    s.add_argument(
        "--runs",
        nargs="+",
        type=run_id,
        required=True,
        metavar=RUN_METAVAR,
        help="the run of each responses file, in the same order",
    )
    s.add_argument("--scores", nargs="+", required=True, help="score-store Parquet files, one per run, same order")
    s.set_defaults(func=fluency)
    s = evs.add_parser("lm-eval", help="lm-evaluation-harness tasks (needs debiaslab[lmeval])")
    model(s)
    s.add_argument("--adapter", default=None, help="PEFT adapter directory (HFLM peft=)")
    s.add_argument("--projection", default=None, help="(rejected: lm-eval cannot apply an INLP hook)")
    s.add_argument(
        "--trained", default=None, help="a method's trained folder: a complete fine-tuned model, or an adapter"
    )
    settings(s, "evaluations.lm_eval (tasks, num_fewshot, batch_size, limit, include_path)")
    run(s)
    s.add_argument("--json", required=True, help="lm-eval results JSON")
    s.add_argument("--scores", required=True, help="score-store Parquet file")
    s.set_defaults(func=lm_eval)
