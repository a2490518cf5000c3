"""The warm-start server (debiaslab/runtime/warm_start.py): a job forked from it runs as its command would
(arguments, directory, temporary directory, standard streams, exit status, the variables the
libraries' imports set), a killed command takes its job with it, and whatever the server may not
serve runs cold. Then the default run: its model jobs ran warm, and a job rerun cold gives the same
output."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from debiaslab.runtime import warm_start

COLD = 97  # the test client's status when run_forked says "run it yourself"
CLIENT = (
    "import sys\nfrom debiaslab.runtime.warm_start import run_forked\n"
    f"code = run_forked(sys.argv[1:])\nsys.exit({COLD} if code is None else code)\n"
)


def probe(argv: list[str]) -> int:
    """What the test server runs for a job instead of a debiaslab command."""
    import tempfile

    action = argv[0]
    if action == "report":
        print(
            json.dumps(
                {
                    "argv": argv,
                    "cwd": os.getcwd(),
                    "tmp": tempfile.gettempdir(),
                    "imported": os.environ.get("WARM_PROBE_IMPORTED"),
                }
            )
        )
        print("probe stderr line", file=sys.stderr)
        return int(argv[1])
    if action == "sleep":
        Path(argv[1]).write_text(str(os.getpid()))
        time.sleep(120)
        return 0
    if action == "exit":  # sys.exit(2), as argparse on a usage error; sys.exit("text"): status 1, text to stderr
        sys.exit(int(argv[1]) if argv[1].isdigit() else argv[1])
    if action == "kill-self":
        os.kill(os.getpid(), signal.SIGKILL)
    raise RuntimeError(f"probe failed on {action}")


def serve_without_pytest_variable(path, **kw):
    os.environ.pop("PYTEST_CURRENT_TEST", None)  # pytest changes it between a test's phases
    warm_start.serve(path, **kw)


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A warm-start server (forked from this process) whose preload is a module that sets a variable
    on import, as scikit-learn and torch do; yields its socket path."""
    (tmp_path / "warm_probe_preload.py").write_text("import os\nos.environ['WARM_PROBE_IMPORTED'] = 'yes'\n")
    # (not monkeypatch.syspath_prepend: it calls pkg_resources, which the GenBit shim stands in for)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    path = str(tmp_path / "warm.sock")
    proc = multiprocessing.get_context("fork").Process(
        target=serve_without_pytest_variable,
        args=(path,),
        kwargs={"parent": os.getpid(), "preload": ("warm_probe_preload",), "entry": probe, "idle_timeout": 120},
    )
    proc.start()
    for _ in range(200):
        if os.path.exists(path):
            break
        time.sleep(0.05)
    assert os.path.exists(path), "the server never listened"
    yield path
    proc.terminate()
    proc.join(10)
    assert not os.path.exists(path), "the server left its socket behind"


def job_env(path, env=None):
    env = dict(os.environ if env is None else env, DEBIASLAB_WARM_SOCKET=path)
    for name in ("WARM_PROBE_IMPORTED", "PYTEST_CURRENT_TEST"):
        env.pop(name, None)
    return env


def client(path, *argv, env=None, cwd=None, **kw):
    env = job_env(path, env)
    return subprocess.run(
        [sys.executable, "-c", CLIENT, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, **kw
    )


def test_a_forked_job_runs_as_its_command_would(server, tmp_path):
    workdir, tmpdir = tmp_path / "job", tmp_path / "jobtmp"
    workdir.mkdir(), tmpdir.mkdir()
    done = client(server, "report", "3", "an argument", env=dict(os.environ, TMPDIR=str(tmpdir)), cwd=workdir)
    assert done.returncode == 3, done.stderr  # the job's status is the command's
    report = json.loads(done.stdout.splitlines()[0])  # the job wrote to the command's stdout
    assert report["argv"] == ["report", "3", "an argument"]
    assert report["cwd"] == str(workdir)
    assert report["tmp"] == str(tmpdir)  # Snakemake's per-job TMPDIR, not the server's
    assert report["imported"] == "yes"  # set by the server's imports, as a cold job's own imports would
    assert "probe stderr line" in done.stderr and "ran warm" in done.stderr


def test_a_failing_or_killed_job_fails_its_command(server):
    failed = client(server, "crash")
    assert failed.returncode == 1 and "RuntimeError: probe failed on crash" in failed.stderr
    assert client(server, "exit", "2").returncode == 2
    said = client(server, "exit", "no such file")
    assert said.returncode == 1 and "no such file" in said.stderr
    killed = client(server, "kill-self")
    assert killed.returncode == 128 + signal.SIGKILL


def test_killing_the_command_kills_its_job(server, tmp_path):
    pid_file = tmp_path / "job.pid"
    command = subprocess.Popen([sys.executable, "-c", CLIENT, "sleep", str(pid_file)], env=job_env(server))
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    job = int(pid_file.read_text())
    command.kill()  # as Snakemake cancelling the job
    command.wait(10)
    for _ in range(200):
        try:
            os.kill(job, 0)
        except ProcessLookupError:
            break  # killed and reaped by the server
        time.sleep(0.05)
    else:
        os.kill(job, signal.SIGKILL)
        pytest.fail("the job outlived its command")


def test_what_the_server_may_not_serve_runs_cold(server, tmp_path):
    # an environment difference that could change an import (a cache location, a thread count)
    other = client(server, "report", "0", env=dict(os.environ, HF_HOME=str(tmp_path)))
    assert other.returncode == COLD and "declined (environment differs from the server's in HF_HOME)" in other.stderr
    threads = client(server, "report", "0", env=dict(os.environ, OMP_NUM_THREADS="64"))
    assert threads.returncode == COLD and "OMP_NUM_THREADS" in threads.stderr
    # no server at that path (a cluster node, a finished run), or turned off: cold, silently
    assert client(str(tmp_path / "none.sock"), "report", "0").returncode == COLD
    off = client(server, "report", "0", env=dict(os.environ, DEBIASLAB_WARM_START="0"))
    assert off.returncode == COLD and off.stderr == ""


def test_decline_reason_names_what_differs():
    env = {"A": "1", "PWD": "/x", "TMPDIR": "/t"}
    assert warm_start.decline_reason({"prefix": "/venv", "env": dict(env, PWD="/y", TMPDIR="/u")}, env, "/venv") is None
    assert "another Python environment" in warm_start.decline_reason({"prefix": "/other", "env": env}, env, "/venv")
    assert (
        warm_start.decline_reason({"prefix": "/venv", "env": {"A": "2", "B": "1"}}, env, "/venv")
        == "environment differs from the server's in A, B"
    )


def test_the_server_imports_the_entry_it_runs_by_name_afresh(tmp_path, monkeypatch):
    """The CLI names the server's entry as data ("module:function"; the server never imports the CLI):
    each child drops the module's package from sys.modules and imports the source as it is on disk."""
    import importlib

    from debiaslab.cli.runtime import ENTRY

    (tmp_path / "warm_probe_entry.py").write_text("def run(argv):\n    return len(argv)\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    first = warm_start._fresh_entry("warm_probe_entry:run")
    (tmp_path / "warm_probe_entry.py").write_text("def run(argv):\n    return 10 + len(argv)\n")
    assert (first(["a", "b"]), warm_start._fresh_entry("warm_probe_entry:run")(["a", "b"])) == (2, 12)
    module, _, function = ENTRY.partition(":")  # what `debiaslab warm-start` hands the server
    assert callable(getattr(importlib.import_module(module), function))
    monkeypatch.delitem(sys.modules, "warm_probe_entry")


@pytest.mark.workflow
def test_the_default_run_ran_warm_and_a_cold_rerun_gives_the_same_output(default_run, tmp_path):
    served = (default_run / "results/testbed/logs/warm_start.log").read_text()
    assert "serving" in served and "stopped" in served, served
    logs = sorted((default_run / "results/testbed/logs").rglob("*.log"))
    warm = [p for p in logs if "ran warm" in p.read_text()]
    assert len(warm) >= 60, f"{len(warm)} of {len(logs)} job logs ran warm"  # all but the first few jobs
    # one generate job again, cold, to a new file: the same responses
    job = "generate/occupations/testbed-lm/sft/seed~42"
    log = default_run / f"results/testbed/logs/{job}.log"
    assert log in warm
    dry = subprocess.run(
        ["snakemake", "-n", "-p", "-f", f"results/testbed/{job}/responses.parquet", "--allowed-rules", "generate"],
        cwd=default_run,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(
        s.split("Shell command: ", 1)[1]
        for s in (dry.stdout + dry.stderr).splitlines()
        if s.startswith("Shell command: debiaslab ") and " generate " in s
    )
    out = tmp_path / "responses.parquet"
    line = line.replace(f"results/testbed/{job}/responses.parquet", str(out)).split(" > ")[0]
    env = dict(os.environ, DEBIASLAB_WARM_START="0")
    cold = subprocess.run(line, shell=True, cwd=default_run, env=env, capture_output=True, text=True)
    assert cold.returncode == 0 and "ran warm" not in cold.stderr, cold.stderr[-2000:]
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), pd.read_parquet(default_run / f"results/testbed/{job}/responses.parquet")
    )


class Workflow:
    """What `start_for` reads of Snakemake's workflow object."""

    def __init__(self, jobs=10, local=True, remote=False, touch=False):
        self.local_exec, self.remote_exec, self.touch = local, remote, touch
        self.dag = self
        self.jobs = jobs

    def needrun_jobs(self):
        if self.jobs is None:
            raise AttributeError("a moved Snakemake internal")
        return iter(range(self.jobs))


def test_the_server_starts_for_local_runs_of_several_jobs_and_stops_with_them(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(warm_start.SOCKET_ENV, raising=False)
    log = tmp_path / "warm_start.log"
    for not_served in (Workflow(local=False), Workflow(remote=True), Workflow(touch=True), Workflow(jobs=3)):
        assert warm_start.start_for(not_served, str(log)) is None and warm_start._server is None
    assert warm_start.start_for(Workflow(jobs=None), str(log)) is None
    assert "warm-start server not started (AttributeError" in capsys.readouterr().err
    (tmp_path / "nvidia0").touch()  # a machine with a GPU: no server
    monkeypatch.setattr(warm_start, "GPU_DEVICE_FILES", (str(tmp_path / "nvidia[0-9]*"),))
    assert warm_start.start_for(Workflow(jobs=10), str(log)) is None and warm_start._server is None
    assert "a GPU is present" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.delenv(warm_start.SOCKET_ENV, raising=False)
    # the `debiaslab` command of this environment, also where pytest runs as .venv/bin/python -m pytest
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    path = warm_start.start_for(Workflow(jobs=10), str(log))
    try:
        assert path and os.environ[warm_start.SOCKET_ENV] == path
        server = warm_start._server
        for _ in range(600):  # its imports: seconds
            if os.path.exists(path) or server.poll() is not None:
                break
            time.sleep(0.1)
        assert os.path.exists(path), log.read_text()
        # a real command, with the environment Snakemake gives a 1-thread job of this process
        env = dict(os.environ, **{name: "1" for name in warm_start.THREAD_VARIABLES})
        done = subprocess.run(
            ["debiaslab", "check-config", str(Path(__file__).parents[1] / "config/config.yaml")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0 and "ran warm" in done.stderr, done.stderr
    finally:
        warm_start.stop_server()
    assert server.poll() is not None and not os.path.exists(path)
    assert warm_start.SOCKET_ENV not in os.environ
    assert "serving" in log.read_text() and "stopped" in log.read_text()
