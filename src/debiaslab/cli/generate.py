"""`debiaslab generate`: sample a response for every prompt of a prompts table."""

from __future__ import annotations

from debiaslab.cli.args import json_object, model, settings


def generate(a):
    from debiaslab.generation.responses import write_responses

    return write_responses(
        a.model,
        a.prompts,
        a.settings,
        a.seed,
        a.out,
        experiment=a.experiment,
        method=a.method,
        method_settings=a.method_settings,
        adapter=a.adapter,
        projection=a.projection,
    )


def add_commands(sub) -> None:
    s = sub.add_parser(
        "generate",
        help="sample responses for a prompts table",
        description="Sample a response for every row of a prompts table (batched, left padding).",
    )
    model(s)
    s.add_argument("--experiment", default=None, help="experiment name (selects gen_filter/constrained criteria)")
    s.add_argument(
        "--method",
        default=None,
        help="decoding-time method: gen_filter or constrained; others decode by plain sampling",
    )
    s.add_argument(
        "--method-settings",
        type=json_object,
        default={},
        metavar="JSON",
        help="the method's config slice (e.g. gen_filter's k)",
    )
    s.add_argument("--adapter", default=None, help="PEFT adapter directory to apply")
    s.add_argument("--projection", default=None, help="INLP projection directory to apply as an LM-head hook")
    s.add_argument("--prompts", required=True, help="table with a `prompt` column; other columns are kept")
    settings(s, "sampling settings (max_new_tokens, temperature, top_p, batch_size)")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True, help="responses Parquet file")
    s.set_defaults(func=generate)
