"""A real single-node SLURM cluster on loopback, for the executor-plugin test.

Debian's SLURM 22.05 packages (munge, slurmctld, slurmd, slurm-client) run a controller
and one node whose GPU is fake: a `gpu:a100:1` GRES backed by a character device, so
scheduling and accounting of GPU requests are real while compute is the CPU's. There is
no slurmdbd: job status comes from `squeue` and finished jobs stay visible to
`scontrol show job` for MinJobAge seconds. Facts behind each setting: docs/development.md#slurm-test-cluster
(pitfall numbers in the comments below).

Daemons run in the foreground under `setsid`, their PIDs recorded and stopped by PID.
A file lock serialises clusters: the configuration must live at /etc/slurm (pitfall 1).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
CONF_DIR = Path("/etc/slurm")  # the compiled-in default; the jobstep's inner srun ignores SLURM_CONF (pitfall 1)
RUN_DIR = Path("/run/debiaslab-slurm")
NODE = "node01"
# The node as the scheduler sees it. It advertises more CPUs and memory than this machine has
# (SlurmdParameters=config_overrides) so the slurm profile's requests, sized for real nodes,
# are schedulable here; nothing enforces them (no cgroups), and each job's threads are capped
# at the CPUs it can run on (debiaslab.models.set_threads).
NODE_CPUS = 32
NODE_MEMORY_MB = 512_000
MIN_JOB_AGE = 3600  # finished jobs stay in `scontrol show job` (and squeue's status mode) this long (pitfall 3)


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (not a failure of the workflow)."""


def _installed(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return proc.returncode == 0 and "install ok installed" in proc.stdout


def ensure_packages() -> str | None:
    """Install the SLURM packages if needed; return why a cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "a real SLURM cluster needs root (daemons, /etc/slurm, apt-get)"
    if shutil.which("apt-get") is None or shutil.which("dpkg-query") is None:
        return "no apt-get/dpkg here to install SLURM (Debian/Ubuntu packages)"
    missing = [p for p in PACKAGES if not _installed(p)]
    if not missing:
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` timed out after 300 s"
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
            return f"`{' '.join(cmd)}` failed ({proc.returncode}): {' | '.join(tail)}"
    still = [p for p in PACKAGES if not _installed(p)]
    return f"packages still missing after apt-get install: {still}" if still else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`with Cluster() as c:` starts munge, slurmctld and slurmd; leaving stops them by PID."""

    def __init__(self, *, start_timeout: float = 60):
        self.start_timeout = start_timeout
        self.pids: dict[str, int] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="debiaslab-slurm-"))
        self.log_dir = self.tmp / "log"
        self._lock = None
        self._saved_conf: dict[Path, bytes | None] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        return self if self.pids else self.start()  # `with` around a cluster already started runs it once

    def start(self) -> Cluster:
        """Configure and start the daemons; on any failure stop what was started, then raise."""
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self._lock = open(RUN_DIR / "lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # one cluster at a time on this machine
        try:
            self._configure()
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _configure(self) -> None:
        for sub in ("state", "spool", "log", "dev"):
            (self.tmp / sub).mkdir(parents=True, exist_ok=True)
        # munged runs as the munge user (pitfall 7) on a private socket, so it never meets a system munged
        self.munge_dir = RUN_DIR / "munge"
        self.munge_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.munge_dir, "munge", "munge")
        os.chmod(self.munge_dir, 0o755)
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
            shutil.chown(key, "munge", "munge")
            os.chmod(key, 0o600)
        # a GRES GPU needs a device file or slurmd drops it (pitfall 2): a char device like /dev/null;
        # its trailing 0 is the GPU index the job sees in CUDA_VISIBLE_DEVICES
        self.gpu_device = self.tmp / "dev" / "nvidia0"
        try:
            os.mknod(self.gpu_device, 0o666 | 0o020000, os.makedev(1, 3))
        except PermissionError as e:
            raise ClusterUnavailable(
                f"cannot create the fake GPU's device file (mknod: {e.strerror}); "
                "a container without CAP_MKNOD cannot host the test cluster"
            ) from None
        ctld_port, slurmd_port = _free_port(), _free_port()
        node = (
            f"NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname=localhost CPUs={NODE_CPUS} "
            f"RealMemory={NODE_MEMORY_MB} Gres=gpu:a100:1 Features=a100 State=UNKNOWN"
        )
        slurm_conf = f"""\
ClusterName=debiaslab
SlurmctldHost=localhost
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={self.munge_dir}/munge.socket
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.tmp}/state
SlurmdSpoolDir={self.tmp}/spool
SlurmctldPidFile={self.tmp}/slurmctld.pid
SlurmdPidFile={self.tmp}/slurmd.pid
SlurmctldLogFile={self.log_dir}/slurmctld.log
SlurmdLogFile={self.log_dir}/slurmd.log
# pitfall 5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
# pitfall 4: without per-CPU default memory a job without --mem takes the whole node
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MinJobAge={MIN_JOB_AGE}
SlurmdParameters=config_overrides
# no slurmdbd: accounting off (AccountingStorageTRES without slurmdbd kills slurmctld, pitfall 3)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
GresTypes=gpu
# pitfall 6: nothing depends on this machine's hostname
{node}
PartitionName=cpu Nodes={NODE} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={NODE} MaxTime=INFINITE State=UP
"""
        gres_conf = f"AutoDetect=off\nNodeName={NODE} Name=gpu Type=a100 File={self.gpu_device}\n"
        CONF_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in (("slurm.conf", slurm_conf), ("gres.conf", gres_conf)):
            path = CONF_DIR / name
            self._saved_conf[path] = path.read_bytes() if path.exists() else None
            path.write_text(text)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        """Start a foreground daemon in its own session; `$!` is the daemon itself (pitfall 7)."""
        log = open(self.log_dir / f"{name}.out", "w")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.pids[name] = proc.pid
        self._procs = getattr(self, "_procs", {})
        self._procs[name] = proc

    def _start(self) -> None:
        self._spawn(
            "munged",
            [
                "setpriv",
                "--reuid=munge",
                "--regid=munge",
                "--init-groups",
                "munged",
                "-F",
                f"--socket={self.munge_dir}/munge.socket",
                f"--pid-file={self.munge_dir}/munged.pid",
                f"--log-file={self.munge_dir}/munged.log",
                f"--seed-file={self.munge_dir}/munged.seed",
            ],
        )
        self._wait(lambda: (self.munge_dir / "munge.socket").exists(), "munged socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self._wait(lambda: self._ok(["scontrol", "ping"]), "slurmctld answering `scontrol ping`")
        self._spawn("slurmd", ["slurmd", "-D", "-N", NODE])
        self._wait(lambda: self.node_state() in ("idle",), f"node {NODE} idle")

    def _ok(self, cmd: list[str]) -> bool:
        self._check_alive()
        return subprocess.run(cmd, capture_output=True, text=True).returncode == 0

    def _check_alive(self) -> None:
        for name, proc in getattr(self, "_procs", {}).items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.logs(name)}")

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"SLURM test cluster: timed out waiting for {what}\n{self.logs()}")

    def node_state(self) -> str:
        self._check_alive()
        proc = subprocess.run(["sinfo", "-h", "-n", NODE, "-o", "%T"], capture_output=True, text=True)
        return proc.stdout.strip().split("\n")[0].rstrip("*") if proc.returncode == 0 else ""

    def stop(self) -> None:
        """Cancel leftover jobs, stop each daemon by its PID, restore /etc/slurm, release the lock."""
        if "slurmctld" in self.pids:
            subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True)
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.pop(name, None)
            if pid is None:
                continue
            proc = self._procs[name]
            try:
                os.kill(pid, signal.SIGTERM)
                proc.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                proc.wait(timeout=5)
        for path, content in self._saved_conf.items():
            if content is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(content)
        self._saved_conf = {}
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    # --- inspection ---------------------------------------------------------------------------------

    def logs(self, *names: str) -> str:
        out = []
        for path in sorted(self.log_dir.glob("*")):
            if names and not any(path.name.startswith(n) for n in names):
                continue
            out.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(out)

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller remembers, as `scontrol show job -o` key=value fields."""
        proc = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, check=True)
        jobs = []
        for line in proc.stdout.splitlines():
            if not line.startswith("JobId="):
                continue
            fields, key = {}, None
            for token in line.split(" "):
                if "=" in token:
                    key, _, value = token.partition("=")
                    fields[key] = value
                elif key:
                    fields[key] += " " + token
            jobs.append({k: v.strip() for k, v in fields.items()})
        return jobs
