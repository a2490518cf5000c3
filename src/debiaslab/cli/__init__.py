"""`debiaslab <command> ...`: one command per workflow stage, grouped as the stages are.

Each command parses its arguments and calls one function; every Snakemake rule calls exactly one of
them, and each also runs by hand. Settings arrive as a JSON object (the rule's config slice) so a
by-hand run can reproduce any job: the job's command line is in its Snakemake log. One module per
command group (`config`, `testbed`, `data`, `train`, `generate`, `score`, `evaluate`, `aggregate`,
`hub`, `runtime`) adds its commands to the parser; `args` holds the arguments they share.

Heavy libraries are imported inside the called functions, never here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

from debiaslab.cli import aggregate, config, data, evaluate, generate, hub, runtime, score, testbed, train
from debiaslab.cli.args import positive_int

log = logging.getLogger("debiaslab")

GROUPS = (config, testbed, data, train, generate, score, evaluate, aggregate, hub, runtime)
# Commands that never run a model: they leave PyTorch's thread pool alone.
NO_TORCH_THREADS = ("check-config", "aggregate", "score", "data", "warm-start")
# Old subcommands -> the command that replaced them (kebab-case; one generic command per stage).
RENAMED = {
    ("data", "occupations"): "build --experiment occupations --artifact training|prompts",
    ("data", "reward_guided"): "build --experiment reward_guided --artifact pool",
    ("data", "reward-guided"): "build --experiment reward_guided --artifact pool",
    ("data", "rm_forget"): "build --experiment rm_forget --artifact styles",
    ("data", "rm-forget"): "build --experiment rm_forget --artifact styles",
    ("data", "safety"): "build --experiment safety --artifact training|prompts",
    ("data", "desired_distribution"): "build --experiment desired_distribution --artifact sentences",
    ("data", "desired-distribution"): "build --experiment desired_distribution --artifact sentences",
    ("score", "balance"): "run --experiment occupations",
    ("score", "reward-guided"): "run --experiment reward_guided",
    ("score", "rm-sweep"): "run --experiment rm_forget",
    ("score", "safety"): "run --experiment safety",
    ("score", "desired-distribution"): "run --experiment desired_distribution",
    ("aggregate", "curves"): "trained-figure --experiment reward_guided --name training_curves",
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="debiaslab",
        description="Run one stage of a debiaslab experiment. Snakemake calls these; each also runs by hand.",
        epilog="Run `debiaslab <command> --help` for a command's arguments. The workflow: `snakemake --cores 2 all`.",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=int(os.environ.get("DEBIASLAB_THREADS", "0")) or None,
        help="CPU threads for PyTorch (Snakemake passes the job's threads)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument(
        "--gpus",
        type=int,
        default=0,
        metavar="N",
        help="GPUs of this job: more than one runs the command under `accelerate launch`, one process each",
    )
    p.add_argument(
        "--distributed",
        default="ddp",
        metavar="STRATEGY",
        help="with --gpus > 1: ddp, fsdp or an accelerate config file (debiaslab/runtime/launch.py)",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="<command>")
    for group in GROUPS:
        group.add_commands(sub)
    return p


def renamed(argv: list[str]) -> str | None:
    """The one-line hint for a command given by its old name, else None."""
    words = []
    rest = iter(argv)
    for word in rest:
        if word == "--threads":
            next(rest, None)
        elif not word.startswith("-"):
            words.append(word)
            if len(words) == 2:
                break
    new = RENAMED.get(tuple(words))
    if new is None:
        return None
    return f"debiaslab {' '.join(words)}: replaced by `debiaslab {words[0]} {new}`; run that instead"


def main(argv: list[str] | None = None) -> int:
    """The `debiaslab` command: run in a fork of the warm-start server where a local Snakemake run
    has one (debiaslab/runtime/warm_start.py), else here."""
    from debiaslab.runtime.launch import relaunch
    from debiaslab.runtime.warm_start import run_forked

    argv = relaunch(sys.argv[1:] if argv is None else list(argv))  # several GPUs: accelerate launch runs it
    forked = run_forked(argv)
    return run(argv) if forked is None else forked


def run(argv: list[str]) -> int:
    """Run one command in this process."""
    from debiaslab.runtime.process import tune, use_threads

    tune()
    hint = renamed(argv)
    if hint:
        print(hint, file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    # force: in a warm-start child the server's logging configuration is replaced by the job's
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    use_threads(args.threads, torch_threads=args.command not in NO_TORCH_THREADS)
    start = time.perf_counter()
    from debiaslab.core.config import ConfigError
    from debiaslab.core.io import DataError

    settings_missing = hasattr(args, "settings") and args.settings is None
    if settings_missing:
        args.settings = {}
    try:
        result = args.func(args)
    except KeyError as e:
        if not settings_missing or args.verbose:
            raise
        # a by-hand run without --settings reached a key only the rule's config slice has
        print(
            f"debiaslab {args.command}: error: --settings not given and this command needs key {e}: pass the "
            "rule's config slice as JSON (`snakemake -n -p <target>` prints each job's command)",
            file=sys.stderr,
        )
        return 2
    except (ConfigError, DataError) as e:
        # Expected failures (bad config, bad data) get one clear line, not a traceback.
        if args.verbose:
            raise
        print(f"debiaslab {args.command}: error: {e}", file=sys.stderr)
        return 2
    if result:
        log.info("%s done in %.1fs: %s", args.command, time.perf_counter() - start, json.dumps(result, default=str))
    return 0
