"""`debiaslab generate`: sample a response for every prompt of a prompts table."""

from __future__ import annotations

from debiaslab.cli.args import json_object, model, settings


def generate(a):
    from debiaslab.generation.responses import write_responses

    decoder, criterion = decoding(a.experiment, a.method)
    return write_responses(
        a.model,
        a.prompts,
        a.settings,
        a.seed,
        a.out,
        decoder=decoder,
        criterion=criterion,
        method_settings=a.method_settings,
        adapter=a.adapter,
        projection=a.projection,
    )


def decoding(experiment: str | None, method: str | None):
    """A decoding-time method's decoder module (methods/registry.py) and the experiment's criterion for it
    (its `decoding`); (None, None) for every other method."""
    from debiaslab.core.config import ConfigError
    from debiaslab.methods.registry import METHODS

    if method is None or method not in METHODS or METHODS[method].kind != "decoding":
        return None, None
    from debiaslab.experiments.base import load
    from debiaslab.experiments.registry import get

    if experiment is None:
        raise ConfigError(f"generate --method {method}: give --experiment (its criterion is the experiment's)")
    entry = get(experiment).decoding.get(method)
    if entry is None:
        raise ConfigError(f"generate --method {method}: experiment {experiment} defines no criterion for it")
    return METHODS[method].module, load(entry)


def add_commands(sub) -> None:
    s = sub.add_parser(
        "generate",
        help="sample responses for a prompts table",
        description="Sample a response for every row of a prompts table (batched, left padding).",
    )
    model(s)
    s.add_argument("--experiment", default=None, help="experiment name (its criterion for a decoding-time method)")
    s.add_argument(
        "--method",
        default=None,
        help="the run's method: a decoding-time one (gen_filter, constrained) decodes its way; others sample plainly",
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
