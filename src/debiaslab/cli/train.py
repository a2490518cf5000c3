"""`debiaslab train`: train one mitigation method for one seed."""

from __future__ import annotations

from debiaslab.cli.args import model, settings


def train(a):
    from debiaslab.methods.registry import run

    return run(
        a.method,
        model=a.model,
        data=a.data,
        settings=a.settings,
        seed=a.seed,
        out=a.out,
        checkpoints=a.checkpoints,
    )


def add_commands(sub) -> None:
    from debiaslab.methods.registry import with_kind

    s = sub.add_parser(
        "train",
        help="train a mitigation method (a LoRA adapter, or a method's artifact)",
        description="Train one method for one seed; writes the adapter folder atomically. "
        "Checkpoints go to --checkpoints so a killed run resumes.",
    )
    s.add_argument(
        "--method", required=True, help="method name: " + ", ".join(with_kind("adapter", "projection", "model"))
    )
    model(s)
    s.add_argument("--data", required=True, help="training data table (.parquet/.jsonl/.json/.csv)")
    settings(s, "the method's training settings")
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True, help="output directory (PEFT adapter format)")
    s.add_argument("--checkpoints", required=True, help="resumable checkpoint root, outside the outputs")
    s.set_defaults(func=train)
