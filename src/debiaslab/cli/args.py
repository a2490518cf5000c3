"""Argument helpers every command group shares: JSON values, a rule's `--settings` slice, `--model`,
`--run` and the runs a table or figure expects."""

from __future__ import annotations

import argparse
import json
from typing import Any

RUN_METAVAR = "EXP/MODEL/METHOD/SEED"


def _json(text: str, kind: type, name: str):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg} at column {e.colno}): {text[:80]!r}") from None
    if not isinstance(value, kind):
        raise argparse.ArgumentTypeError(f"expected a JSON {name}, got {type(value).__name__}")
    return value


def json_object(text: str) -> dict[str, Any]:
    return _json(text, dict, "object")


def json_list(text: str) -> list:
    return _json(text, list, "list")


def key_values(text: str) -> tuple[str, str]:
    """NAME=VALUE."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name, value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def run_id(text: str):
    from debiaslab.core.store import RunId

    parts = text.split("/")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"expected EXPERIMENT/MODEL/METHOD/SEED, got {text!r}")
    try:
        return RunId(parts[0], parts[1], parts[2], int(parts[3]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer in {text!r}") from None


def settings(parser: argparse.ArgumentParser, what: str) -> None:
    # default None, not {}: run() tells "not given" from "given" when a command needs a key it lacks
    parser.add_argument(
        "--settings",
        type=json_object,
        default=None,
        metavar="JSON",
        help=f"{what} as a JSON object (the rule's config slice; omitted keys take defaults)",
    )


def model(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--model",
        required=required,
        metavar="SPEC",
        help="Hub name, local directory in Hub format, or a JSON model spec "
        '(e.g. \'{"path": "Qwen/Qwen3-0.6B", "dtype": "bfloat16"}\')',
    )


def run(parser: argparse.ArgumentParser) -> None:
    """--run: the run whose score-store rows a command writes."""
    parser.add_argument("--run", type=run_id, required=True, metavar=RUN_METAVAR)


def expected_runs(parser: argparse.ArgumentParser) -> None:
    """--scores plus what they must hold: a table or figure is refused if a run lacks its scores."""
    parser.add_argument("--scores", nargs="+", required=True, help="score-store Parquet files")
    parser.add_argument(
        "--runs",
        nargs="+",
        type=run_id,
        default=None,
        metavar=RUN_METAVAR,
        help="the run each score file must hold, in --scores order (the rules pass them)",
    )
    parser.add_argument(
        "--cells",
        type=json_object,
        default=None,
        metavar="JSON",
        help="runs scored per grid cell (reward_guided): {method: [cell label, ...]}, the cells each run must have",
    )
