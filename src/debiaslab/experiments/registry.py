"""The experiments, one line each: name -> the module that defines its `EXPERIMENT` (experiments/base.py).

Adding an experiment: its folder experiments/<name>/ (an `experiment.py` defining EXPERIMENT, and the
modules its entries name), its schema fragment workflow/schemas/<name>.schema.yaml, and one line here.
Nothing else: the rules, config validation, the CLI and aggregation loop over this registry
(docs/development.md#adding-an-experiment walks through a toy one).

The registry is a module of its own, not experiments/__init__.py: a package's __init__ runs on every import
of its modules, so it is part of every experiment job's code fingerprint, and a new line there would rerun
every experiment's jobs.
"""

from __future__ import annotations

from functools import cache

EXPERIMENTS = {
    "occupations": "debiaslab.experiments.occupations.experiment",
    "reward_guided": "debiaslab.experiments.reward_guided.experiment",
    "rm_forget": "debiaslab.experiments.rm_forget.experiment",
    "safety": "debiaslab.experiments.safety.experiment",
    "desired_distribution": "debiaslab.experiments.desired_distribution.experiment",
}


@cache
def get(name: str):
    """The experiment `name` (an experiments.base.Experiment), or a ConfigError naming the known ones."""
    import importlib

    if name not in EXPERIMENTS:
        from debiaslab.core.config import ConfigError

        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name]).EXPERIMENT


def every() -> dict:
    """name -> Experiment, for every registered experiment."""
    return {name: get(name) for name in EXPERIMENTS}


def schemas() -> dict[str, str]:
    """name -> its schema fragment's file name (the config schema's `experiments` properties)."""
    return {name: get(name).schema for name in EXPERIMENTS}


def checks() -> list:
    """Every experiment's cross-field config check (config -> problems), and the registry's own, for
    core.config.validate."""
    return [exp.check for exp in every().values() if exp.check is not None] + [evaluation_problems]


def evaluation_problems(config: dict) -> list[str]:
    """An evaluation of responses (fluency) needs an experiment that generates responses (has `prompts`)."""
    from debiaslab.evals.registry import EVALUATIONS

    problems = []
    for name, exp in config.get("experiments", {}).items():
        if name not in EXPERIMENTS or get(name).prompts:
            continue
        for evaluation in exp.get("evaluations", {}):
            if EVALUATIONS[evaluation].kind == "responses":
                problems.append(
                    f"experiments.{name}.evaluations.{evaluation}: {name} generates no responses to evaluate"
                )
    return problems


def validate(config: dict, schema_path=None) -> dict:
    """core.config.validate with every experiment's schema fragment and checks."""
    from debiaslab.core import config as core_config

    return core_config.validate(
        config, schema_path or core_config.DEFAULT_SCHEMA, checks=checks(), experiments=schemas()
    )


def load(path, schema_path=None) -> dict:
    """core.config.load with every experiment's schema fragment and checks (what check-config and tests use)."""
    from debiaslab.core import config as core_config

    return core_config.load(path, schema_path or core_config.DEFAULT_SCHEMA, checks=checks(), experiments=schemas())


def testbed_sections() -> dict[str, str]:
    """corpus section -> builder entry, of every registered experiment (the testbed corpus has them all)."""
    return {section: entry for exp in every().values() for section, entry in exp.testbed_sections.items()}


def corpus_sections() -> dict:
    """Every testbed corpus section's builder: the shared ones (testbed/sections.py) and every experiment's."""
    from debiaslab.experiments.base import load
    from debiaslab.testbed.sections import SECTIONS

    return SECTIONS | {section: load(entry) for section, entry in testbed_sections().items()}


# --- tables and figures: every experiment's, and the bias suite's across experiments -----------------


def table_spec(name: str, settings: dict):
    """The Table of experiment `name` (its `table` entry, with its baseline) or of the bias suite."""
    from debiaslab.aggregate import bias_suite

    if name == bias_suite.NAME:
        return bias_suite.table(settings)
    return get(name).table_spec(settings)


def suite_sections(names) -> dict:
    """The bias suite table's settings for the experiments `names` run it in: each one's baseline and grid."""
    return {name: {"baseline": get(name).baseline, "cells": get(name).cells is not None} for name in names}


def figures() -> dict[str, tuple[str, object]]:
    """figure name -> (its experiment, experiments.base.Figure) of every score-store figure."""
    return {
        figure: (name, spec)
        for name, exp in every().items()
        for figure, spec in exp.figures.items()
        if spec.source == "scores"
    }


def figure_plot(name: str, settings: dict):
    """(scores, png, pdf) -> None: figure `name` (an experiment's, or the bias suite's) with its settings bound."""
    from debiaslab.aggregate import bias_suite
    from debiaslab.experiments.base import load

    if name == bias_suite.NAME:
        return lambda scores, png, pdf: bias_suite.figure(scores, settings, png, pdf)
    experiment, spec = _figure(name)
    plot = load(spec.entry)
    return lambda scores, png, pdf: plot(scores, settings, get(experiment).baseline, png, pdf)


def figure_caption(name: str, settings: dict, experiment: str | None = None) -> str:
    """What figure `name` shows (`experiment`: the experiment of a figure from trained artifacts)."""
    from debiaslab.aggregate import bias_suite
    from debiaslab.experiments.base import load

    if name == bias_suite.NAME:
        return bias_suite.figure_caption(settings)
    if experiment is not None:
        return load(get(experiment).figures[name].caption)(settings, get(experiment).baseline)
    experiment, spec = _figure(name)
    return load(spec.caption)(settings, get(experiment).baseline)


def _figure(name: str):
    known = figures()
    if name not in known:
        from debiaslab.core.config import ConfigError

        raise ConfigError(f"unknown figure {name!r}; known: {', '.join([*known, 'bias_suite'])}")
    return known[name]
