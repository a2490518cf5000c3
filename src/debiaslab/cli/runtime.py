"""`debiaslab warm-start`: the server a local Snakemake run starts so its jobs skip the library imports."""

from __future__ import annotations

# what each forked job runs, by name: the server imports it fresh in the child, never itself
ENTRY = "debiaslab.cli:run"


def warm_start(a):
    from debiaslab.runtime.warm_start import serve

    serve(a.socket, ENTRY, a.parent, idle_timeout=a.idle_timeout)


def add_commands(sub) -> None:
    w = sub.add_parser(
        "warm-start",
        help="serve local jobs from one process that imported torch & co. once",
        description="The warm-start server (debiaslab/runtime/warm_start.py): a local Snakemake run "
        "starts it; each `debiaslab` command of the run then runs in a fork of it, skipping "
        "~4 s of imports. Set DEBIASLAB_WARM_START=0 to run every job cold.",
    )
    w.add_argument("--socket", required=True, help="Unix socket path to listen on")
    w.add_argument("--parent", type=int, default=None, help="stop when this process (Snakemake) exits")
    w.add_argument("--idle-timeout", type=float, default=3600.0, help="stop after this many seconds without a job")
    w.set_defaults(func=warm_start)
