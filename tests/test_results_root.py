"""Each config's artifacts live under its own results root, results/<name>/ (issue 28, Build 5): two configs
run in one clone leave each other's results intact. The full-scale config used to overwrite the testbed's
results/data/occupations/prompts.parquet and results/tables/occupations.* (paths that did not depend on the
config)."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import REPO, copy_workflow, snakemake
from debiaslab.core.paths import Layout, cell_path, expand_results, results_root

PROMPTS = "data/occupations/prompts.parquet"


def variant(workdir, name="variant", samples=2):
    """config/config.yaml under another name, occupations only, another prompt-set size."""
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    occupations = config["experiments"]["occupations"]
    occupations["generation"]["samples_per_occupation"] = samples
    config.update(name=name, experiments={"occupations": occupations})
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def planned_files(workdir, *args) -> set[str]:
    """Every output and log path of every job a dry-run plans."""
    proc = snakemake(workdir, "-n", "--forceall", *args)
    files = set()
    for line in (proc.stdout + proc.stderr).splitlines():
        key, _, value = line.strip().partition(": ")
        if key in ("output", "log", "benchmark"):
            files |= {v.strip() for v in value.split(",") if v.strip()}
    return files


def test_the_path_grammar():
    config = {"name": "study", "models": {"m": {"path": "{results}/testbed/lm"}}, "x": ["{results}/a", 1]}
    assert results_root(config) == "results/study"
    assert expand_results(config, results_root(config))["models"]["m"]["path"] == "results/study/testbed/lm"
    assert config["x"] == ["results/study/a", 1]  # in place: the workflow's config object itself
    layout = Layout("results/study")
    assert layout.run("scores", "occupations", "m", "sft", 42, "scores.parquet") == (
        "results/study/scores/occupations/m/sft/seed~42/scores.parquet"
    )
    assert (
        layout.run("train", "e", "{model}", "{method}", "{seed}")
        == "results/study/train/e/{model}/{method}/seed~{seed}"
    )
    assert cell_path({"size": 64, "temperature": 0.7}) == "size~64/temperature~0.7"
    assert cell_path({"size": 0, "temperature": 1.0}) == "size~0/temperature~1"


def test_two_configs_plan_disjoint_artifacts_each_under_its_own_root(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    default = planned_files(workdir, "all")
    other = planned_files(workdir, "all", "--configfile", str(variant(workdir)))
    assert default and other
    assert all(f.startswith("results/testbed/") for f in default), sorted(
        f for f in default if not f.startswith("results/testbed/")
    )
    assert all(f.startswith("results/variant/") for f in other), sorted(
        f for f in other if not f.startswith("results/variant/")
    )
    assert not default & other


def test_a_second_config_run_in_the_same_clone_leaves_the_first_ones_results_intact(tmp_path):
    """A real job of each config, one after the other, in one clone: the first config's prompt set keeps its
    bytes and modification time, and its workflow still has nothing to do for it."""
    workdir = copy_workflow(tmp_path / "wf")
    first = workdir / "results/testbed" / PROMPTS
    snakemake(workdir, "--cores", "1", str(first.relative_to(workdir)))
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    configfile = variant(workdir)
    second = workdir / "results/variant" / PROMPTS
    snakemake(workdir, "--cores", "1", str(second.relative_to(workdir)), "--configfile", str(configfile))
    assert second.is_file() and second.read_bytes() != before[0]  # another config, another prompt set
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    proc = snakemake(workdir, "-n", str(first.relative_to(workdir)))
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["", "a/b", "../up"])
def test_a_name_that_is_not_a_folder_name_is_rejected(name):
    from debiaslab.core.config import ConfigError
    from debiaslab.experiments.registry import validate

    with pytest.raises(ConfigError, match=re.escape("name:")):
        validate({"name": name, "experiments": {}}, REPO / "workflow/schemas/config.schema.yaml")
