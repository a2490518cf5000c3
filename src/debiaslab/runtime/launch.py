"""How a job runs on several GPUs: `debiaslab --gpus N [--distributed STRATEGY] <command>` runs itself again
under `accelerate launch`, one process per GPU.

The workflow's rules pass a training job's GPU count and strategy from its resources (the profile sets them:
`gpu`, `distributed`), never as params, so moving a job to another cluster layout retrains nothing. With at
most one GPU the command runs as it is. STRATEGY: `ddp` (default) or `fsdp` (the accelerate configs shipped
in debiaslab/resources/accelerate/), or the path of an accelerate config file. A method with a training loop
of its own (methods/registry.py `one_process`) always runs as one process: extra GPUs would each run the
whole job again.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "resources" / "accelerate"
STRATEGIES = ("ddp", "fsdp")


def split_options(argv: list[str]) -> tuple[int, str, list[str]]:
    """(--gpus, --distributed, the other arguments) of a command line; the two options go before the command."""
    gpus, strategy, rest = 0, "ddp", []
    it = iter(argv)
    for word in it:
        if word in ("--gpus", "--distributed"):
            value = next(it, "")
            if word == "--gpus":
                gpus = int(value or 0)
            else:
                strategy = value or "ddp"
        elif word.startswith("--gpus="):
            gpus = int(word.partition("=")[2] or 0)
        elif word.startswith("--distributed="):
            strategy = word.partition("=")[2] or "ddp"
        else:
            rest.append(word)
    return gpus, strategy, rest


def accelerate_command(gpus: int, strategy: str, argv: list[str]) -> list[str]:
    config_file = str(CONFIGS / f"{strategy}.yaml") if strategy in STRATEGIES else strategy
    return [
        "accelerate",
        "launch",
        "--config_file",
        config_file,
        "--num_processes",
        str(gpus),
        "-m",
        "debiaslab.cli",
        *argv,
    ]


def one_process_method(argv: list[str]) -> str | None:
    """The method of a `train` command line whose trainer runs as one process, else None."""
    if "train" not in argv or "--method" not in argv:
        return None
    from debiaslab.methods.registry import METHODS

    name = argv[argv.index("--method") + 1] if argv.index("--method") + 1 < len(argv) else ""
    return name if name in METHODS and METHODS[name].one_process else None


def relaunch(argv: list[str]) -> list[str]:
    """The command line to run here: `argv` without --gpus/--distributed. With more than one GPU (and not
    already one of accelerate's processes) this process is replaced by `accelerate launch` running it."""
    gpus, strategy, rest = split_options(argv)
    if gpus <= 1 or "LOCAL_RANK" in os.environ:
        return rest
    method = one_process_method(rest)
    if method is not None:
        print(
            f"debiaslab: {method} trains in a loop of its own: one process, on one of the {gpus} GPUs", file=sys.stderr
        )
        return rest
    command = accelerate_command(gpus, strategy, rest)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(command[0], command)
    return rest  # not reached
