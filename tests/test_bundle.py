"""A reviewer's rebuild that can be trusted (issue 28): verified bundles, rebuild-only clones, complete tables.

The bundle comes from a small finished run made here in seconds: occupations on the testbed model, three
methods (listed out of alphabetical order) and two seeds, each run's score file written by the real
scoring command (`debiaslab score run --experiment occupations`) from a handmade responses table, then
packed by the bundle rule's own command. tests/test_workflow.py does the same round trip on the full default run.

    python -m pytest -q tests/test_bundle.py
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ENV, REPO, copy_workflow, planned_jobs, snakemake
from debiaslab.cli import main
from debiaslab.core.config import load_yaml
from debiaslab.experiments.registry import validate

METHODS = ("prompt_only", "sft", "gen_filter")  # not sorted: the rebuilt table must keep this order
SEEDS = (42, 123)
TABLE = "results/testbed/tables/occupations.csv"


def small_config() -> dict:
    config = load_yaml(REPO / "config/config.yaml")
    occupations = config["experiments"]["occupations"]
    occupations.update(seeds=list(SEEDS), methods={m: occupations["methods"][m] for m in METHODS})
    occupations.pop("evaluations")
    config["experiments"] = {"occupations": occupations}
    return validate(config, REPO / "workflow/schemas/config.schema.yaml")


def responses(method: str, seed: int) -> pd.DataFrame:
    """A few completions per split whose AND rate differs by method and seed."""
    from debiaslab.metrics.balance import AGENTIC, COMMUNAL

    balanced = f"{AGENTIC[0]} and {COMMUNAL[0]} with every client she met that long day"
    plain = "quiet at work and went home early after a very long day there"
    n_balanced = METHODS.index(method) + SEEDS.index(seed)
    rows = []
    for split, occupation in (("train", "nurse"), ("heldout", "writer")):
        for i in range(4):
            rows.append(
                {
                    "split": split,
                    "occupation": occupation,
                    "prefix": f"The {occupation} was",
                    "response": balanced if i < n_balanced else plain,
                }
            )
    return pd.DataFrame(rows)


def score_path(method: str, seed: int) -> str:
    return f"results/testbed/scores/occupations/testbed-lm/{method}/seed~{seed}/scores.parquet"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """(workdir, bundle, config): the small run's score files, scored and bundled by the workflow's commands."""
    workdir = copy_workflow(tmp_path_factory.mktemp("bundle") / "run")
    config = small_config()
    with contextlib.chdir(workdir):
        for method in METHODS:
            for seed in SEEDS:
                generated = Path(
                    f"results/testbed/generate/occupations/testbed-lm/{method}/seed~{seed}/responses.parquet"
                )
                generated.parent.mkdir(parents=True)
                responses(method, seed).to_parquet(generated, index=False)
                assert (
                    main(
                        [
                            "score",
                            "run",
                            "--experiment",
                            "occupations",
                            "--inputs",
                            json.dumps({"responses": str(generated)}),
                            "--settings",
                            '{"min_words": 8, "max_words": 15}',
                            "--run",
                            f"occupations/testbed-lm/{method}/{seed}",
                            "--scores",
                            score_path(method, seed),
                            "--records",
                            score_path(method, seed).replace("scores.parquet", "records.parquet"),
                        ]
                    )
                    == 0
                )
        scores = [score_path(m, s) for m in METHODS for s in SEEDS]
        # the bundle rule's command, with the config as the rule passes it: JSON in the run's key order
        assert (
            main(
                [
                    "bundle",
                    "--scores",
                    *scores,
                    "--config",
                    json.dumps(config),
                    "--records",
                    "--out",
                    "results/testbed/bundle.tar.gz",
                ]
            )
            == 0
        )
    return workdir, workdir / "results/testbed/bundle.tar.gz", config


def fresh_clone(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "clone")


def unbundle(archive: Path, dest: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).parent / "debiaslab"), "unbundle", str(archive), "--dest", str(dest)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def reviewer_commands() -> list[str]:
    """The README's reviewer block, as printed (the environment setup line aside)."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"A reviewer, in a fresh clone.*?```bash\n(.*?)```", text, re.S).group(1)
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "make setup"))]


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_the_readme_reviewer_commands_rebuild_the_table_alone_in_config_order_under_10_s(
    small_run, tmp_path, report_section
):
    run, archive, config = small_run
    bundled = yaml.safe_load(tarfile.open(archive).extractfile("results/testbed/bundle/config.yaml"))
    assert bundled == config and json.dumps(bundled) == json.dumps(config), "the bundle's config is not the run's"
    clone = fresh_clone(tmp_path)
    shutil.copy(archive, clone / "bundle.tar.gz")  # where the README's `debiaslab unbundle bundle.tar.gz` finds it
    commands = reviewer_commands()
    assert [c.split()[:2] for c in commands] == [["debiaslab", "unbundle"], ["snakemake", "--cores"]], commands
    target = commands[1].split()[-1]
    timings = []
    for command in commands:
        if command.startswith("snakemake"):
            assert {rule for rule, _ in planned_jobs(clone, target)} == {"table"}
        start, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(command, shell=True, cwd=clone, env=ENV, capture_output=True, text=True, timeout=300)
        timings.append((time.perf_counter() - start, _children_cpu() - cpu))
        assert proc.returncode == 0, f"{command}:\n{proc.stderr[-2000:]}"
    # CPU seconds: wall time on a shared 2-core machine mostly measures the other processes (~3.5 s unloaded)
    assert timings[-1][1] < 10, f"the table rebuild took {timings[-1][1]:.1f} CPU s"
    report_section(
        "reviewer rebuild from a bundle (tests/test_bundle.py)",
        "  ".join(f"`{c}`: {wall:.1f} s ({cpu:.1f} CPU s)" for c, (wall, cpu) in zip(commands, timings)),
    )
    table = pd.read_csv(clone / TABLE)
    assert list(dict.fromkeys(table["method"])) == list(METHODS)
    # the table job is told which run each score file must hold (aggregate/completeness.py), in --scores order
    plan = snakemake(clone, "-n", "-p", target, "--forcerun", "table").stdout  # (--forcerun takes every word after it)
    runs = [f"occupations/testbed-lm/{m}/{s}" for m in METHODS for s in SEEDS]
    assert f"--scores {' '.join(score_path(m, s) for m in METHODS for s in SEEDS)} --runs {' '.join(runs)} " in plan
    assert set(table["n seeds"]) == {len(SEEDS)}
    assert not (clone / "results/testbed/generate").exists() and not (clone / "results/testbed/train").exists()


def test_the_bundle_rule_packs_the_run_config_in_its_key_order(tmp_path):
    """Sorted keys (as the rules' canonical JSON has them) reordered the rebuilt table's methods."""
    import shlex

    workdir = copy_workflow(tmp_path / "wf")
    config = small_config()
    (workdir / "small.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    plan = snakemake(workdir, "-n", "-p", "results/testbed/bundle.tar.gz", "--configfile", "small.yaml").stdout
    command = shlex.split(next(line for line in plan.splitlines() if "debiaslab bundle" in line).split(": ", 1)[1])
    passed = json.loads(command[command.index("--config") + 1])
    assert json.dumps(passed) == json.dumps(config)
    assert list(passed["experiments"]["occupations"]["methods"]) == list(METHODS)


def _rewrite(archive: Path, out: Path, edit) -> Path:
    """A copy of the bundle with `edit(members)` applied to its {name: bytes} members."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    edit(members)
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def _tamper(members):
    frame = pd.read_parquet(io.BytesIO(members[score_path("sft", 42)]))
    frame.loc[frame["metric"] == "and_balanced_rate", "value"] = 1.0
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    members[score_path("sft", 42)] = buffer.getvalue()


def _extra(members):
    members[score_path("dpo", 42)] = members[score_path("sft", 42)]


def _planted_table(members):
    """A table and its hash in the manifest: still refused, tables are always rebuilt."""
    import hashlib

    members[TABLE] = b"model,method,split\ntestbed-lm,sft,train\n"
    manifest = json.loads(members["results/testbed/bundle/manifest.json"])
    manifest["files"][TABLE] = hashlib.sha256(members[TABLE]).hexdigest()
    members["results/testbed/bundle/manifest.json"] = json.dumps(manifest).encode()


def _missing(members):
    del members[score_path("gen_filter", 123)]


def _config_edited(members):
    members["results/testbed/bundle/config.yaml"] = members["results/testbed/bundle/config.yaml"].replace(
        b"seeds:", b"seeds: ", 1
    )


BAD_BUNDLES = {  # fault: (edit, the file the error names, what it says)
    "tampered score file": (_tamper, score_path("sft", 42), "sha256 differs from the manifest's"),
    "file the manifest does not list": (_extra, score_path("dpo", 42), "not listed in the bundle's manifest"),
    "planted table": (_planted_table, TABLE, "a table or figure; those are always rebuilt"),
    "missing score file": (_missing, score_path("gen_filter", 123), "listed in the manifest but missing"),
    "edited config": (_config_edited, "results/testbed/bundle/config.yaml", "sha256 differs from the manifest's"),
}


@pytest.mark.parametrize("fault", sorted(BAD_BUNDLES))
def test_a_bundle_that_does_not_match_its_manifest_is_refused_naming_the_file(small_run, tmp_path, fault):
    edit, named, why = BAD_BUNDLES[fault]
    bad = _rewrite(small_run[1], tmp_path / "bad.tar.gz", edit)
    clone = fresh_clone(tmp_path)
    proc = unbundle(bad, clone)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert f"{bad}: {named}: {why}" in line and "nothing was unpacked" in line, line
    assert not (clone / "results").exists()


@pytest.mark.parametrize("kind", ["empty file", "empty archive", "garbage", "no such file"])
def test_an_empty_garbage_or_missing_archive_fails_with_one_line(tmp_path, kind):
    archive = tmp_path / "bundle.tar.gz"
    if kind == "empty file":
        archive.write_bytes(b"")
    elif kind == "empty archive":
        tarfile.open(archive, "w:gz").close()
    elif kind == "garbage":
        archive.write_bytes(b"this is not a tar archive\n" * 10)
    proc = unbundle(archive, tmp_path)
    expected = {
        "empty file": "not a readable .tar.gz bundle",
        "empty archive": "empty archive, not a bundle",
        "garbage": "not a readable .tar.gz bundle",
        "no such file": "no such bundle file",
    }[kind]
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{archive}: {expected}" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


def _stop(clone: Path, *args: str) -> str:
    """A rebuild that must stop while the workflow is parsed: before any job, writing no result."""
    proc = snakemake(clone, "--cores", "1", TABLE, *args, check=False)
    assert proc.returncode != 0
    assert not (clone / TABLE).exists() and not (clone / "results/testbed/generate").exists()
    assert not (clone / "results/testbed/logs").exists(), "a job started"
    return proc.stderr


def test_a_rebuild_missing_a_score_file_stops_before_any_job_naming_it_and_the_bundle(small_run, tmp_path):
    """The issue's case: one score file short, the table-only rebuild retrained and regenerated (60 jobs)."""
    clone = fresh_clone(tmp_path)
    assert unbundle(small_run[1], clone).returncode == 0
    (clone / score_path("sft", 123)).unlink()
    err = _stop(clone)
    assert f"{score_path('sft', 123)}: missing; it should have come from the bundle {small_run[1]}" in err, err
    (clone / score_path("sft", 123)).write_bytes((small_run[0] / score_path("sft", 123)).read_bytes())
    # no rule of an unpacked clone trains, generates or scores: asking for an adapter finds none to make it
    proc = snakemake(clone, "-n", "train_all", check=False)
    assert proc.returncode != 0 and "MissingInputException" in proc.stdout + proc.stderr, proc.stdout[-1500:]


def test_a_rebuild_stops_on_a_score_file_changed_after_unbundling_or_another_config(small_run, tmp_path):
    clone = fresh_clone(tmp_path)
    assert unbundle(small_run[1], clone).returncode == 0
    other = clone / "other.yaml"
    other.write_text(
        (clone / "results/testbed/bundle/config.yaml").read_text().replace("seeds:\n    - 42\n", "seeds:\n    - 7\n", 1)
    )
    assert (
        "seeds" in other.read_text() and other.read_text() != (clone / "results/testbed/bundle/config.yaml").read_text()
    )
    err = _stop(clone, "--configfile", str(other))
    assert "rebuilt with the run's config: run without --configfile" in err, err
    path = clone / score_path("prompt_only", 42)
    path.write_bytes(path.read_bytes() + b"\0")
    err = _stop(clone)
    assert f"{score_path('prompt_only', 42)}: changed since it was unpacked" in err, err


def test_a_bundle_lacking_a_run_stops_the_rebuild_naming_the_file(small_run, tmp_path):
    """A bundle made from an incomplete score store: its manifest is consistent, the config wants more."""
    run, _, config = small_run
    partial = tmp_path / "partial.tar.gz"
    with contextlib.chdir(run):
        scores = [score_path(m, s) for m in METHODS for s in SEEDS if (m, s) != ("gen_filter", 42)]
        assert main(["bundle", "--scores", *scores, "--config", json.dumps(config), "--out", str(partial)]) == 0
    clone = fresh_clone(tmp_path)
    assert unbundle(partial, clone).returncode == 0
    err = _stop(clone)
    assert f"{score_path('gen_filter', 42)}: not in the bundle {partial} (its manifest does not list it)" in err, err


# --- completeness: a table refuses score files that are empty, of another experiment or run, or short of cells ----


def _table(paths, runs, tmp_path, capsys, experiment="occupations", cells=None):
    code = main(
        [
            "aggregate",
            "table",
            "--experiment",
            experiment,
            "--settings",
            "{}",
            "--scores",
            *map(str, paths),
            "--runs",
            *runs,
            *(["--cells", json.dumps(cells)] if cells else []),
            "--csv",
            str(tmp_path / "t.csv"),
            "--md",
            str(tmp_path / "t.md"),
        ]
    )
    return code, capsys.readouterr().err


def _variant(src: Path, out: Path, edit) -> Path:
    frame = pd.read_parquet(src)
    frame = edit(frame)
    frame.to_parquet(out, index=False)
    return out


@pytest.mark.parametrize(
    "fault, edit, message",
    [
        ("empty", lambda f: f.iloc[0:0], "no score rows (an empty score file)"),
        (
            "another experiment",
            lambda f: f.assign(experiment="safety"),
            "rows of experiment safety, expected 'occupations'",
        ),
        (
            "another seed",
            lambda f: f.assign(seed=42),
            "rows of run(s) occupations/testbed-lm/sft/42, expected occupations/testbed-lm/sft/123 only",
        ),
    ],
)
def test_a_table_refuses_a_score_file_that_is_empty_or_mislabelled(small_run, tmp_path, capsys, fault, edit, message):
    run = small_run[0]
    bad = _variant(run / score_path("sft", 123), tmp_path / "bad.parquet", edit)
    paths = [
        run / score_path("prompt_only", 42),
        run / score_path("prompt_only", 123),
        run / score_path("sft", 42),
        bad,
    ]
    runs = [
        "occupations/testbed-lm/prompt_only/42",
        "occupations/testbed-lm/prompt_only/123",
        "occupations/testbed-lm/sft/42",
        "occupations/testbed-lm/sft/123",
    ]
    code, err = _table(paths, runs, tmp_path, capsys)
    assert code == 2 and f"{bad}: {message}" in err and err.count("\n") == 1, err
    assert not (tmp_path / "t.csv").exists()
    paths[-1] = run / score_path("sft", 123)
    code, err = _table(paths, runs, tmp_path, capsys)
    assert code == 0, err
    assert set(pd.read_csv(tmp_path / "t.csv")["n seeds"]) == {2}


def test_a_reward_guided_table_refuses_a_run_short_of_a_grid_cell(tmp_path, capsys):
    from debiaslab.core.store import RunId, cell_label, score_rows, write_scores

    path = tmp_path / "scores.parquet"
    values = [{"split": cell_label(64, 1.0), "subset": "all", "metric": "genbit_score", "value": 0.5, "n": 8}]
    write_scores(path, score_rows(RunId("reward_guided", "lm", "reinforce", 42), values, {}))
    code, err = _table(
        [path],
        ["reward_guided/lm/reinforce/42"],
        tmp_path,
        capsys,
        "reward_guided",
        cells={"reinforce": [cell_label(64, 0.7), cell_label(64, 1.0)]},  # as the rules pass them
    )
    assert (
        code == 2 and f"{path}: no scores for grid cell(s) ['n=64,T=0.7'] of run reward_guided/lm/reinforce/42" in err
    ), err


@pytest.mark.parametrize(
    "fault, responses_edit, message",
    [
        ("no responses", lambda f: f.iloc[0:0], "no rows"),
        (
            "a null response",
            lambda f: f.assign(response=[None] + list(f["response"][1:])),
            "row 1: column 'response' must be text, got null",
        ),
    ],
)
def test_scoring_zero_or_null_responses_fails_with_one_line(tmp_path, capsys, fault, responses_edit, message):
    path = tmp_path / "responses.parquet"
    responses_edit(responses("sft", 42)).to_parquet(path, index=False)
    out = tmp_path / "out"
    code = main(
        [
            "score",
            "run",
            "--experiment",
            "occupations",
            "--inputs",
            json.dumps({"responses": str(path)}),
            "--settings",
            '{"min_words": 8, "max_words": 15}',
            "--run",
            "occupations/lm/sft/42",
            "--scores",
            str(out / "scores.parquet"),
            "--records",
            str(out / "records.parquet"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and f"{path}: {message}" in err and err.count("\n") == 1, err
    assert not out.exists()
