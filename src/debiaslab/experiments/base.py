"""The experiment interface: everything the workflow's rules, config validation and aggregation need
from one experiment, as data and small functions.

The rules (rules/*.smk) loop over the configured experiments and generate, from each one's
`Experiment`: a data job per `DataArtifact` (`data_<experiment>_<artifact>`), a training job per
trained method, run and grid cell (the one generic `train` rule, reading `Training`), generation jobs if
it has `prompts`, a scoring job per run (`score_<experiment>`, from `Scoring`), its table and figures.
Config validation takes its schema fragment (workflow/schemas/<name>.schema.yaml) and its `check`.

Two kinds of fields:
- rule-side functions (runs, cells, settings slices, inputs): called when the workflow is planned, with a
  `Setup` (the experiment's config slice, the whole config and the results layout);
- job-side entries, "module:function" strings: imported only when a job runs them, so a job's code
  fingerprint (core.provenance) holds exactly the module it runs, and editing one experiment's scoring
  reruns only its scoring jobs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from debiaslab.core.paths import Layout, cell_path

Entry = str  # "debiaslab.experiments.<name>.<module>:<attribute>"


def load(entry: Entry) -> Any:
    """The attribute an entry names (its module imported now)."""
    module, _, name = entry.partition(":")
    return getattr(importlib.import_module(module), name)


def module_of(entry: Entry) -> str:
    return entry.partition(":")[0]


@dataclass(frozen=True)
class Run:
    """One (model, method, seed) of an experiment."""

    model: str
    method: str
    seed: int


@dataclass(frozen=True)
class Cell:
    """One grid cell of a run (reward_guided: dataset size × temperature): trained and scored on its own."""

    values: dict  # e.g. {"size": 64, "temperature": 0.7}: the cell's folder levels, in this order
    label: str  # its score-store `split` (core.store.cell_label)
    trained: bool = True  # False: the untrained base model at this cell (no artifact)

    @property
    def path(self) -> str:
        return cell_path(self.values)


@dataclass(frozen=True)
class Setup:
    """What an experiment's rule-side functions read."""

    name: str  # the experiment
    config: dict  # the whole config, validated (defaults filled, `{results}` expanded)
    layout: Layout  # where this config's artifacts live (core.paths)

    @property
    def exp(self) -> dict:
        """The experiment's config slice."""
        return self.config["experiments"][self.name]

    def data(self, file: str) -> str:
        """A data artifact's file: <root>/data/<experiment>/<file>."""
        return self.layout.data(self.name, file)

    def generated(self, run: Run) -> str:
        return self.layout.run("generate", self.name, run.model, run.method, run.seed, "responses.parquet")

    def trained(self, run: Run, cell: Cell | None = None) -> str:
        """The trained artifact of a run (of one of its grid cells): .../seed~S/[<cell>/]<adapter|projection|model>."""
        from debiaslab.methods.registry import method

        kind = method(run.method).kind
        return self.layout.run(
            "train", self.name, run.model, run.method, run.seed, f"{cell.path}/{kind}" if cell else kind
        )


@dataclass(frozen=True)
class DataArtifact:
    """One data job (`data_<experiment>_<name>`; `debiaslab data build --experiment E --artifact NAME`)."""

    name: str
    outputs: dict[str, str]  # the entry's keyword -> its file under data/<experiment>/ ({method}, {seed} allowed)
    entry: Entry  # (settings, [method=..., seed=...,] **outputs) -> summary
    settings: Callable[[Setup, Any], dict]  # (setup, wildcards) -> the job's config slice
    datasets: Callable[[Setup], list[str]] = lambda setup: []  # dataset paths it reads (Hub ids or local)
    methods: tuple[str, ...] = ()  # the values of its {method} wildcard
    local: bool = False  # light enough for the login node under the SLURM profile

    def wildcards(self) -> list[str]:
        return [w for w in ("method", "seed") if any(f"{{{w}}}" in p for p in self.outputs.values())]


@dataclass(frozen=True)
class Training:
    """What a trained method's job (the generic `train` rule) reads: its data file and its config slice."""

    data: Callable[[Setup, Run], str]  # the data file (under data/<experiment>/) it trains on
    settings: Callable[[Setup, Run, Cell | None], dict]  # the training job's config slice


@dataclass(frozen=True)
class ScoreJob:
    """What a scoring entry gets (`debiaslab score run`)."""

    run: Any  # core.store.RunId
    settings: dict
    inputs: dict  # name -> file or list of files (Scoring.inputs)
    arguments: dict  # Scoring.arguments
    model: str | None  # the run's model spec (JSON), where Scoring.model
    scores: str
    records: str


@dataclass(frozen=True)
class Scoring:
    """A run's scoring job (`score_<experiment>`): score-store rows plus per-item records."""

    entry: Entry  # (ScoreJob) -> summary
    settings: Callable[[Setup, Run], dict]  # the job's config slice
    inputs: Callable[[Setup, Run], dict]  # name -> file or files it reads (other jobs' outputs)
    arguments: Callable[[Setup, Run], dict] | None = None  # more of what it needs, as JSON (e.g. grid cells)
    model: bool = False  # loads the run's model: gets --model, waits for it, resources sized by it
    models: Callable[[Setup], list[str]] = lambda setup: []  # other models it loads (config names)
    outputs: Callable[[Setup], list[str]] = lambda setup: []  # more files it writes beside scores.parquet


@dataclass(frozen=True)
class Figure:
    """A figure of an experiment.

    source "scores": from the table's score files, `results/<name>/figures/<figure>.{png,pdf}` (the generic
    `figure` rule), entry (scores, settings, baseline, png, pdf); "trained": from the trained artifacts,
    `figures/<experiment>/<figure>.{png,csv}` (rule `<experiment>_<figure>`), entry (artifacts, png, csv).
    """

    entry: Entry
    caption: Entry  # (settings, baseline) -> str
    source: str = "scores"


@dataclass(frozen=True)
class Experiment:
    name: str
    baseline: dict  # the row every comparison of its tables is against, e.g. {"method": "prompt_only"}
    data: tuple[DataArtifact, ...]
    scoring: Scoring
    table: Entry  # (settings, baseline) -> aggregate.tables.Table
    runs: Callable[[Setup], list[Run]] = field(default=None)  # default: every model × method × seed
    cells: Callable[[Setup, Run], list[Cell]] | None = None  # grid cells of a run (None: a run is one cell)
    training: Training | None = None  # how its trained methods train (None: it trains nothing)
    prompts: str | None = None  # the data file generation samples from (None: it generates nothing)
    decoding: dict[str, Entry] = field(default_factory=dict)  # decoding method -> its criterion
    figures: dict[str, Figure] = field(default_factory=dict)
    check: Callable[[dict], list[str]] | None = None  # cross-field config checks: config -> problems
    testbed_sections: dict[str, Entry] = field(default_factory=dict)  # corpus section -> builder

    @property
    def schema(self) -> str:
        """Its schema fragment's file in workflow/schemas/."""
        return f"{self.name}.schema.yaml"

    def all_runs(self, setup: Setup) -> list[Run]:
        if self.runs is not None:
            return self.runs(setup)
        return every_run(setup)

    def run_cells(self, setup: Setup, run: Run) -> list[Cell | None]:
        """The run's grid cells, or [None] where a run is one cell."""
        return self.cells(setup, run) if self.cells else [None]

    def table_spec(self, settings: dict):
        return load(self.table)(settings, self.baseline)


def every_run(setup: Setup) -> list[Run]:
    """Every model × method × seed, in that nesting (the default `runs`)."""
    exp = setup.exp
    return [Run(model, method, seed) for model in exp["models"] for method in exp["methods"] for seed in exp["seeds"]]
