"""`debiaslab data build`: one data artifact of an experiment (training data, prompt sets), as Parquet
tables; what each experiment builds is its `data` (experiments/<name>/experiment.py)."""

from __future__ import annotations

from debiaslab.cli.args import key_values, settings


def build(a):
    from debiaslab.core.config import ConfigError
    from debiaslab.experiments.base import load
    from debiaslab.experiments.registry import get

    experiment = get(a.experiment)
    artifacts = {artifact.name: artifact for artifact in experiment.data}
    if a.artifact not in artifacts:
        raise ConfigError(
            f"data build: experiment {a.experiment} has no artifact {a.artifact!r}; known: {', '.join(artifacts)}"
        )
    artifact = artifacts[a.artifact]
    outputs = dict(a.out or [])
    if set(outputs) != set(artifact.outputs):
        wanted = ", ".join(f"{k}=PATH" for k in artifact.outputs)
        raise ConfigError(f"data build --artifact {a.artifact}: give --out for exactly {wanted}")
    given = {"method": a.method, "seed": a.seed}
    wildcards = {w: given[w] for w in artifact.wildcards()}
    missing = [f"--{w}" for w, value in wildcards.items() if value is None]
    if missing:
        raise ConfigError(f"data build --artifact {a.artifact}: {', '.join(missing)} required")
    return load(artifact.entry)(a.settings, **wildcards, **outputs)


def add_commands(sub) -> None:
    d = sub.add_parser(
        "data",
        help="build an experiment's training data or prompts",
        description="Build training data and prompt sets as Parquet record tables.",
    )
    ds = d.add_subparsers(dest="what", required=True, metavar="<what>")
    s = ds.add_parser(
        "build",
        help="one data artifact of an experiment (docs/experiments/<experiment>.md#data)",
        description="Build one of an experiment's data artifacts (its `data` in experiments/<name>/experiment.py): "
        "occupations training|prompts, reward_guided pool, rm_forget styles, safety training|prompts, "
        "desired_distribution sentences.",
    )
    s.add_argument("--experiment", required=True)
    s.add_argument("--artifact", required=True, help="the artifact's name in the experiment's `data`")
    settings(s, "the artifact's config slice")
    s.add_argument("--method", default=None, help="the method whose data it is (artifacts with a {method} wildcard)")
    s.add_argument("--seed", type=int, default=None, help="generator seed (artifacts with a {seed} wildcard)")
    s.add_argument(
        "--out", type=key_values, action="append", metavar="NAME=PATH", help="an output file (repeat for each)"
    )
    s.set_defaults(func=build)
