"""A sixth experiment is its folder, its schema fragment and one registration line (issue 26, acceptance 1).

The test copies the workflow and the package source into a temporary directory and adds the worked example
of docs/development.md#adding-an-experiment there — the section's code blocks, read from the page, so the
docs show what works: the folder src/debiaslab/experiments/toy/, workflow/schemas/toy.schema.yaml and one
line in experiments/registry.py. With a config of its own (a --configfile outside the copy), `snakemake -n`
plans its data → train → generate → score → table jobs; its data jobs then run, and its scoring and table
commands dispatch to its own code. The copy differs from the repository by exactly those files.
"""

from __future__ import annotations

import difflib
import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import ENV, REPO, copy_workflow, planned_jobs, snakemake

DOC = REPO / "docs/development.md"
REGISTRY = "src/debiaslab/experiments/registry.py"
# what the experiment adds: its folder and its schema fragment (the registry gets one line)
ADDED = {
    "src/debiaslab/experiments/toy/__init__.py",
    "src/debiaslab/experiments/toy/experiment.py",
    "src/debiaslab/experiments/toy/data.py",
    "src/debiaslab/experiments/toy/scoring.py",
    "src/debiaslab/experiments/toy/table.py",
    "workflow/schemas/toy.schema.yaml",
}
COMPARED = ("src", "Snakefile", "rules", "workflow", "config", "envs", "profiles")
ROOT = "results/toy"  # the toy config's results root (its `name`)


def example_blocks() -> dict[str, str]:
    """path -> text of every code block of the worked example (its first line names the file)."""
    section = DOC.read_text().split('<a id="adding-an-experiment"></a>', 1)[1]
    return dict(re.findall(r"```(?:python|yaml)\n# (\S+)[^\n]*\n(.*?)```", section, re.S))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """(the copy with the toy experiment added, its config file, the environment that runs the copy's package)."""
    root = copy_workflow(tmp_path_factory.mktemp("toy") / "repo")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    blocks = example_blocks()
    registration, config = blocks.pop(REGISTRY), blocks.pop("toy.yaml")
    assert set(blocks) == ADDED, sorted(blocks)
    for path, text in blocks.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    registry = root / REGISTRY
    head, start, rest = registry.read_text().partition("EXPERIMENTS = {\n")
    end = rest.index("}\n")
    registry.write_text(head + start + rest[:end] + registration + rest[end:])
    configfile = root.parent / "toy.yaml"  # a --configfile of its own, outside the repository
    configfile.write_text(config)
    env = dict(ENV, PYTHONPATH=str(root / "src"))  # the copy's package, not the installed one
    return root, configfile, env


def tree(root: Path) -> dict[str, Path]:
    files = {}
    for name in COMPARED:
        path = root / name
        candidates = [path] if path.is_file() else path.rglob("*")
        for f in candidates:
            if f.is_file() and "__pycache__" not in f.parts and ".egg-info" not in str(f):
                files[f.relative_to(root).as_posix()] = f
    return files


def test_nothing_but_the_folder_the_schema_fragment_and_one_registration_line_differs(toy):
    root, _, _ = toy
    ours, theirs = tree(REPO), tree(root)
    assert set(theirs) - set(ours) == ADDED
    assert set(ours) - set(theirs) == set()
    changed = sorted(p for p in ours if not filecmp.cmp(ours[p], theirs[p], shallow=False))
    assert changed == [REGISTRY]
    diff = difflib.unified_diff(ours[REGISTRY].read_text().splitlines(), theirs[REGISTRY].read_text().splitlines(), n=0)
    lines = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert lines == ['+    "toy": "debiaslab.experiments.toy.experiment",']


def test_its_jobs_are_planned_data_train_generate_score_table(toy):
    root, configfile, env = toy
    jobs = planned_jobs(root, "all", "--configfile", str(configfile), env=env)
    run = "testbed-lm/{}/seed~42"
    expected = {
        ("data_toy_sft", f"{ROOT}/data/toy/sft/seed~42/train.parquet"),
        ("data_toy_prompts", f"{ROOT}/data/toy/prompts.parquet"),
        ("train", f"{ROOT}/train/toy/{run.format('sft')}/adapter"),
        ("generate", f"{ROOT}/generate/toy/{run.format('base')}/responses.parquet"),
        ("generate", f"{ROOT}/generate/toy/{run.format('sft')}/responses.parquet"),
        ("score_toy", f"{ROOT}/scores/toy/{run.format('base')}/scores.parquet"),
        ("score_toy", f"{ROOT}/scores/toy/{run.format('sft')}/scores.parquet"),
        ("table", f"{ROOT}/tables/toy.csv"),
        ("testbed_pretrain", f"{ROOT}/testbed/lm"),
    }
    assert expected <= jobs, sorted(expected - jobs)
    assert {rule for rule, _ in jobs} - {rule for rule, _ in expected} <= {
        "all",
        "testbed_corpus",
        "testbed_tokenizers",
        "testbed_mmlu",
        "testbed_glue",
    }


def test_its_data_jobs_run_and_its_scoring_and_table_are_its_own(toy, tmp_path):
    root, configfile, env = toy
    data = [f"{ROOT}/data/toy/prompts.parquet", f"{ROOT}/data/toy/sft/seed~42/train.parquet"]
    snakemake(root, "--cores", "1", *data, "--configfile", str(configfile), env=env)
    assert len(pd.read_parquet(root / data[0])) == 4 * 4
    assert set(pd.read_parquet(root / data[1])["completion"]) == {" calm and small."}

    debiaslab = [str(Path(sys.executable).parent / "debiaslab")]
    scores = []
    for method, said in (("base", ["big", "big", "calm", "big"]), ("sft", ["calm", "calm", "calm", "big"])):
        responses = tmp_path / f"{method}.parquet"
        pd.DataFrame(
            {"split": "test", "prompt": "The red box was", "response": [f" {w} and small." for w in said]}
        ).to_parquet(responses)
        scores.append(tmp_path / method / "scores.parquet")
        command = [
            "score", "run", "--experiment", "toy", "--run", f"toy/testbed-lm/{method}/42",
            "--settings", json.dumps({"word": "calm"}), "--inputs", json.dumps({"responses": str(responses)}),
            "--scores", str(scores[-1]), "--records", str(tmp_path / method / "records.parquet"),
        ]  # fmt: skip
        proc = subprocess.run(debiaslab + command, cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    table = tmp_path / "toy.md"
    command = [
        "aggregate", "table", "--experiment", "toy", "--settings", json.dumps({"method_order": ["base", "sft"]}),
        "--scores", *map(str, scores), "--runs", "toy/testbed-lm/base/42", "toy/testbed-lm/sft/42",
        "--source", "toy", "--csv", str(tmp_path / "toy.csv"), "--md", str(table),
    ]  # fmt: skip
    proc = subprocess.run(debiaslab + command, cwd=root, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    csv = pd.read_csv(tmp_path / "toy.csv").set_index("method")
    assert csv.loc["base", "target word % mean"] == pytest.approx(25.0)
    assert csv.loc["sft", "target word % mean"] == pytest.approx(75.0)
    assert csv.loc["sft", "target word % Δ"] == pytest.approx(50.0)  # against the interface's baseline
    text = table.read_text()
    assert "Toy: % of responses that name the target word." in text and text.endswith("Made by config toy.\n")
