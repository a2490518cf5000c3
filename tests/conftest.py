"""Shared fixtures: one complete default-workflow run per test session, in a temp copy.

Workflow tests assert on that run's artifacts (effects of methods, tables) and use
dry-runs against it to prove what a config edit reruns. Unit tests need none of it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# the workflow files a test copies into its own folder: the benchmarks' helper, one copy of the list
sys.path.append(str(REPO / "benchmarks"))
from _common import WORKFLOW_FILES, copy_workflow  # noqa: E402,F401
from debiaslab.runtime.process import collect_full_generation_rarely, keep_freed_memory  # noqa: E402

# The test process imports torch + transformers and holds their objects, as every job does: the same
# start-up saving (measured on the unit-test modules: full collections 10 -> 1, 1.4 -> 0.2 s), and
# the same reuse of freed memory by the models it runs in-process.
collect_full_generation_rarely()
keep_freed_memory()
# A stand-in Hub token: a run of a config with a gated model still to download needs HF_TOKEN, and every
# run of the tests carries it so tests/test_reliability.py can check it is written nowhere.
TEST_TOKEN = "hf_debiaslabTESTtokenNEVERwritten"
ENV = dict(
    os.environ,
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TOKENIZERS_PARALLELISM="false",
    HF_TOKEN=TEST_TOKEN,
)
ENV["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{ENV.get('PATH', '')}"
os.environ.update({k: ENV[k] for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN")})


def snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: int = 3600, env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd = [str(Path(sys.executable).parent / "snakemake"), *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env or ENV, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


# The bias suite's cross-experiment table and figure: rebuilt whenever any run's eval_bias_suite.parquet is.
def suite_aggregates(root: str = "results/testbed") -> set[tuple[str, str]]:
    """The bias suite's table and figure jobs of the config whose results root is `root`."""
    return {("table", f"{root}/tables/bias_suite.csv"), ("figure", f"{root}/figures/bias_suite.png")}


SUITE_AGGREGATES = suite_aggregates()  # the default config's

JOB_RE = re.compile(r"^(?:local)?rule (\w+):\s*$")


def planned_jobs(workdir: Path, *args: str, env: dict | None = None) -> set[tuple[str, str]]:
    """(rule, first output) of every job a dry-run schedules."""
    proc = snakemake(workdir, "-n", *args, env=env)
    jobs, rule = set(), None
    for line in (proc.stdout + proc.stderr).splitlines():
        m = JOB_RE.match(line.strip())
        if m:
            rule = m.group(1)
            continue
        if rule and line.strip().startswith("output:"):
            jobs.add((rule, line.split(":", 1)[1].strip().split(",")[0]))
            rule = None
        elif rule and line.strip().startswith("jobid:"):
            pass
    return jobs


def edited_config(workdir: Path, edit, name: str = "edited.yaml") -> Path:
    """Write config/config.yaml with `edit(config)` applied; return its path (for --configfile)."""
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    edit(config)
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def needs_default_run(item) -> bool:
    return "default_run" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """Tests that do not need the default run go first (stable: file order otherwise), so that they run
    while the default run builds in the background (`_default_run_started`): on two cores it keeps both
    busy for minutes, and what else the suite does mostly keeps one."""
    items.sort(key=needs_default_run)


@pytest.fixture(scope="session", autouse=True)
def _default_run_started(request, tmp_path_factory):
    """(workdir, process, log) of the default workflow run, started with the session's first test if any
    selected test needs it; stopped at the end of the session if it is still running then."""
    if not any(needs_default_run(item) for item in request.session.items):
        yield None
        return
    reuse = os.environ.get("DEBIASLAB_TEST_RUN_DIR")
    workdir = copy_workflow(Path(reuse) if reuse else tmp_path_factory.mktemp("default_run"))
    log = tmp_path_factory.mktemp("default_run_log") / "snakemake.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", "all"],
            cwd=workdir,
            env=ENV,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    yield workdir, proc, log
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=120)


@pytest.fixture(scope="session")
def default_run(_default_run_started) -> Path:
    """The default workflow, run to completion once; returns its working directory.

    It starts in the background with the session (`_default_run_started`); this waits for it.
    DEBIASLAB_TEST_RUN_DIR=<dir> reuses a working directory across sessions while developing: the
    current workflow files are copied in and `snakemake all` brings it up to date (a no-op if nothing
    changed). CI never sets it.
    """
    workdir, proc, log = _default_run_started
    if proc.wait(timeout=3600) != 0:
        raise AssertionError(
            f"snakemake --cores 2 all failed ({proc.returncode}) in {workdir}:\n{log.read_text()[-6000:]}"
        )
    return workdir


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread for a module: the testbed's tiny models run fastest so, and on a loaded 2-core
    machine more threads are many times slower (the workflow's jobs run on one, too)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Sections a test wants in the CI log even when it passes (pytest shows captured output only on failure).
REPORT_SECTIONS = pytest.StashKey[list]()


@pytest.fixture
def report_section(request):
    """`report_section(title, text)`: print `text` under `title` in the terminal summary."""
    sections = request.config.stash.setdefault(REPORT_SECTIONS, [])
    return lambda title, text: sections.append((title, text))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for title, text in config.stash.get(REPORT_SECTIONS, []):
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)
