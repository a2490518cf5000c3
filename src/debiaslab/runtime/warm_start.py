"""Warm start: one process imports torch, transformers & co. once; each local job runs in a fork of it.

Why: on the testbed a model job's own work takes 1-3 s, and importing the libraries it needs takes
~4 s more, in each of a default run's ~120 jobs: about half of the run. A local `snakemake` run
starts this server (Snakefile `onstart`); each `debiaslab` command then asks it over a Unix socket to
fork a child that runs the command as it would run on its own: the same arguments, working
directory, environment, and stdin/stdout/stderr (the descriptors themselves are passed). The
command waits and exits with the child's status; if the command dies (Snakemake cancels the job),
its child is killed.

Results never depend on it: whenever the server is absent, unreachable (a cluster node) or declines
(an environment that differs from the server's in anything but the working directory's and
temporary directory's variables, which covers a job's thread count: the server imported torch
with one thread), the command runs cold, as before. `DEBIASLAB_WARM_START=0` turns it off.

One difference to know: the child is the server's process, not the command's, so a rule's
`benchmark:` file times the job's wall clock right but counts only the waiting command's CPU time
and memory; the child writes its own to the end of the job's log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import tempfile
import time

SOCKET_ENV = "DEBIASLAB_WARM_SOCKET"
SWITCH_ENV = "DEBIASLAB_WARM_START"
# What the jobs import; everything else a job needs imports in its child (milliseconds). debiaslab's
# own modules are not preloaded, so a child runs the source as it is on disk when the job starts.
PRELOAD = (
    "torch",
    "transformers",
    "transformers.modeling_utils",
    "transformers.trainer",
    "tokenizers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "pandas",
    "pyarrow.parquet",
    "numpy",
    "scipy.stats",
    "sklearn.linear_model",
    "safetensors.torch",
    "tqdm",
)
# Variables that may differ between the server and a job: the shell's own, and the temporary
# directory Snakemake sets per job (applied in the child). Anything else declines the job.
MAY_DIFFER = frozenset({"PWD", "OLDPWD", "SHLVL", "_", "PS1", "TMPDIR", "TMP", "TEMP", "TEMPDIR", SOCKET_ENV})
# Snakemake sets these to a job's threads; the server imports with one thread, so serves 1-thread jobs.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "GOTO_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Runs of fewer jobs start no server.
MIN_JOBS = 4
# A GPU's device files: where one exists, no server (a CUDA or ROCm context does not survive a fork,
# and an import may create one); GPU machines run every job cold, as before.
GPU_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/kfd")
_HEADER = struct.Struct("!I")


# --- the command's side ----------------------------------------------------------------------------


def run_forked(argv: list[str]) -> int | None:
    """The job's exit status if the warm server ran it; None if the caller must run it itself."""
    path = os.environ.get(SOCKET_ENV)
    if not path or os.environ.get(SWITCH_ENV) == "0" or (argv and argv[0] == "warm-start"):
        return None
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
        body = json.dumps(
            {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ), "prefix": sys.prefix}
        ).encode()
        socket.send_fds(client, [_HEADER.pack(len(body))], [0, 1, 2])
        client.sendall(body)
        replies = client.makefile("rb")
        answer = json.loads(replies.readline() or b"{}")
    except (OSError, ValueError):
        client.close()
        return None  # no server (or it went away before taking the job): run cold
    if not answer.get("accepted"):
        print(f"debiaslab: warm start declined ({answer.get('reason', 'no answer')}); running cold", file=sys.stderr)
        client.close()
        return None
    # From here the job is running in the server's child: its status is the job's. If this process
    # is killed, the socket closes and the child kills itself.
    line = replies.readline()
    client.close()
    if not line:
        print("debiaslab: the warm-start server stopped while running this job", file=sys.stderr)
        return 1
    return int(json.loads(line)["exit"])


# --- the server ------------------------------------------------------------------------------------


def decline_reason(request: dict, server_env: dict, prefix: str) -> str | None:
    """Why the server must not run this request (None: it may): a different Python environment, or
    an environment variable that could change what an import does."""
    if request.get("prefix") != prefix:
        return f"another Python environment ({request.get('prefix')} vs the server's {prefix})"
    env = request.get("env", {})
    differ = sorted(k for k in set(env) | set(server_env) if k not in MAY_DIFFER and env.get(k) != server_env.get(k))
    if differ:
        return "environment differs from the server's in " + ", ".join(differ[:5]) + (" ..." if len(differ) > 5 else "")
    return None


def _receive(conn) -> tuple[dict, list[int]]:
    header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    if len(header) != _HEADER.size:
        raise OSError("short request header")
    (size,) = _HEADER.unpack(header)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise OSError("request cut short")
        body += chunk
    return json.loads(body), fds


def _send(conn, message: dict) -> None:
    try:
        conn.sendall(json.dumps(message).encode() + b"\n")
    except OSError:
        pass  # the command is gone; nothing to tell


def _fresh_entry(name: str):
    """The function `name` ("package.module:function") imported from the source on disk now: the
    package's modules the server had (the CLI that started it) are dropped first, so a job never runs
    code older than its start. By name, not by reference: the server never imports the CLI itself."""
    import importlib

    module, _, function = name.partition(":")
    package = module.partition(".")[0]
    for loaded in [m for m in sys.modules if (m == package or m.startswith(package + ".")) and m != __name__]:
        del sys.modules[loaded]
    return getattr(importlib.import_module(module), function)


def _run_child(conn, fds: list[int], request: dict, entry, keep_open: set[int], import_env: dict) -> None:
    """In the forked child: become the job (descriptors, directory, environment), run it, exit."""
    import threading

    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in keep_open:
            try:
                os.close(fd)
            except OSError:
                pass
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        # fresh stream objects over them, buffered as a new process's would be (a terminal: by line)
        encoding = sys.__stdout__.encoding if sys.__stdout__ else "utf-8"
        sys.stdin = open(0, closefd=False, encoding=encoding)  # noqa: SIM115 - the process's own stream
        sys.stdout = open(1, "w", closefd=False, encoding=encoding, buffering=1 if os.isatty(1) else -1)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False, encoding=encoding, errors="backslashreplace", buffering=1)  # noqa: SIM115
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.update(import_env)
        tempfile.tempdir = None  # the job's TMPDIR, not the server's
        sys.argv = ["debiaslab", *request["argv"]]

        def watch():  # the command closed the socket: it was killed, so the job goes too
            while conn.recv(1024):
                pass
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=watch, daemon=True).start()
        start, cpu = time.perf_counter(), time.process_time()
        try:
            code = (_fresh_entry(entry) if isinstance(entry, str) else entry)(request["argv"])
        except SystemExit as e:  # sys.exit(...), argparse's --help and usage errors: as the interpreter does
            if e.code is None or isinstance(e.code, int):
                code = e.code or 0
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:  # noqa: BLE001 - as the interpreter would: traceback, status 1
            import traceback

            traceback.print_exc()
            code = 1
        import resource

        print(
            f"debiaslab: ran warm (pid {os.getpid()}, forked from the warm-start server): "
            f"{time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
            f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            file=sys.stderr,
        )
        import atexit
        import logging

        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - becoming the job failed: say why (the job's log, or the server's)
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
    finally:
        os._exit(code or 0)


def serve(path: str, entry, parent: int | None = None, preload=PRELOAD, idle_timeout: float = 3600.0) -> None:
    """Import `preload`, listen on `path`, fork a child per accepted request that runs `entry(argv)`
    (a function, or its name "module:function", imported fresh in the child); return when `parent`
    (the Snakemake process) is gone, after `idle_timeout` s without a request, or on SIGTERM."""
    import importlib
    import select

    started, server_env, prefix = time.perf_counter(), dict(os.environ), sys.prefix
    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError as e:  # an optional library missing: the jobs that need it import it themselves
            print(f"warm-start server: not preloaded: {name} ({e})", flush=True)
    # variables the imports set (scikit-learn's KMP_*, torch's TORCHINDUCTOR_CACHE_DIR): a cold job
    # sets them by importing the same libraries, so each child gets them on top of its job's environment
    import_env = {k: v for k, v in os.environ.items() if server_env.get(k) != v}
    print(
        f"warm-start server {os.getpid()}: imported {len(preload)} modules in "
        f"{time.perf_counter() - started:.1f} s; serving {path}",
        flush=True,
    )
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    staging = f"{path}.{os.getpid()}.tmp"
    listener.bind(staging)
    listener.listen(64)
    os.replace(staging, path)  # appears only when ready: a job that starts earlier runs cold
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    children: dict[int, socket.socket] = {}
    last = time.monotonic()
    served = 0
    try:
        while True:
            ready, _, _ = select.select([listener, wake_r], [], [], 1.0)
            if wake_r in ready:
                wake_r.recv(4096)
            while children:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                conn = children.pop(pid, None)
                if conn is not None:
                    code = os.waitstatus_to_exitcode(status)
                    _send(conn, {"exit": code if code >= 0 else 128 - code})
                    conn.close()
                last = time.monotonic()
            if listener in ready:
                conn, _ = listener.accept()
                fds: list[int] = []
                try:
                    conn.settimeout(10)
                    request, fds = _receive(conn)
                    conn.settimeout(None)
                except (OSError, ValueError):
                    for fd in fds:
                        os.close(fd)
                    conn.close()
                    continue
                reason = decline_reason(request, server_env, prefix)
                if reason is None and len(fds) != 3:
                    reason = f"{len(fds)} standard descriptors received, not 3"
                if reason:
                    _send(conn, {"accepted": False, "reason": reason})
                    for fd in fds:
                        os.close(fd)
                    conn.close()
                    continue
                _send(conn, {"accepted": True})
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    keep = {
                        listener.fileno(),
                        wake_r.fileno(),
                        wake_w.fileno(),
                        *(c.fileno() for c in children.values()),
                    }
                    _run_child(conn, fds, request, entry, keep, import_env)
                for fd in fds:
                    os.close(fd)
                children[pid] = conn
                served += 1
                last = time.monotonic()
            if parent is not None and not _alive(parent):
                break
            if not children and time.monotonic() - last > idle_timeout:
                break
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        print(f"warm-start server {os.getpid()}: served {served} jobs; stopped", flush=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- Snakemake's side (the Snakefile's onstart / onsuccess / onerror) ------------------------------

_server = None


def start_for(workflow, log_path: str, env: dict[str, str] | None = None) -> str | None:
    """The Snakefile's `onstart`: start the server for a local run that executes jobs (not a cluster
    run, a cluster job's own Snakemake, or --touch). `env`: what every job's shell command exports (the
    offline Hub environment), so the server imports with what the jobs will have. Never fails the run:
    without a server, jobs run cold."""
    try:
        if not workflow.local_exec or workflow.remote_exec or workflow.touch:
            return None
        return start_server(log_path, jobs=sum(1 for _ in workflow.dag.needrun_jobs()), env=env)
    except Exception as e:  # noqa: BLE001 - Snakemake internals may move; the run goes on cold
        print(f"debiaslab: warm-start server not started ({type(e).__name__}: {e}); jobs run cold", file=sys.stderr)
        return None


def start_server(log_path: str, jobs: int, env: dict[str, str] | None = None) -> str | None:
    """Start the server for this (local) Snakemake process of `jobs` jobs to run and point the jobs at
    it; the socket path, or None where turned off or not worth it (the server's own imports cost about
    what one cold job's do: a run of a few jobs gains nothing). Jobs that start before the server has
    imported everything run cold."""
    import glob
    import shutil
    import subprocess

    global _server
    if os.environ.get(SWITCH_ENV) == "0" or _server is not None or jobs < MIN_JOBS:
        return None
    if not sys.platform.startswith("linux"):
        return None  # fork after imports is only known good on Linux
    if any(glob.glob(pattern) for pattern in GPU_DEVICE_FILES):
        print(
            "debiaslab: a GPU is present: no warm-start server (a GPU context does not survive a fork); jobs run cold",
            file=sys.stderr,
        )
        return None
    command = shutil.which("debiaslab")
    if command is None:
        return None
    name = f"debiaslab-warm-{os.getpid()}.sock"
    path = os.path.join(tempfile.gettempdir(), name)
    if len(path) > 100:  # a Unix socket path holds ~107 bytes; a cluster's long TMPDIR would not do
        path = os.path.join("/tmp", name)
    env = dict(os.environ) | dict(env or {})
    env.pop(SOCKET_ENV, None)
    env.update({name: "1" for name in THREAD_VARIABLES})  # what Snakemake sets for a 1-thread job
    os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
    with open(log_path, "ab") as log:
        _server = subprocess.Popen(
            [command, "warm-start", "--socket", path, "--parent", str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    os.environ[SOCKET_ENV] = path
    return path


def stop_server() -> None:
    """Stop the server this process started (its running children are stopped with it)."""
    import subprocess

    global _server
    os.environ.pop(SOCKET_ENV, None)
    if _server is None:
        return
    _server.terminate()
    try:
        _server.wait(10)
    except subprocess.TimeoutExpired:
        _server.kill()
    _server = None
