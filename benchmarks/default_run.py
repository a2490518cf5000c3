#!/usr/bin/env python
"""Wall time of the default workflow (`snakemake --cores 2 all`) from scratch, with a per-stage breakdown.

Runs the whole default DAG in a fresh temporary copy of the workflow (Snakefile, rules, config,
workflow, envs, profiles; the package is the installed one), times it, then reads every rule's
`benchmark:` file (results/testbed/benchmarks/**/*.tsv, column `s` = the job's wall seconds) and sums them
per stage family (testbed, hub, data, train, generate, score, evaluate, aggregate = tables, figures
and bundle): jobs, summed seconds, the slowest job. With two cores jobs overlap, so the stage sums
add up to more than the wall time. From the run's Snakemake log it also prints the idle core-seconds
(∫ max(0, cores − running jobs) dt, 1-s resolution): what a better job order could still win.

    python benchmarks/default_run.py                       # a fresh run: ~4-5 minutes on 2 cores
    python benchmarks/default_run.py --keep /tmp/run       # keep the run (for dry_run.py --run-dir etc.)
    python benchmarks/default_run.py --from-run DIR        # only read DIR's benchmark files (no run)

    python benchmarks/default_run.py --compare-cold        # then the same run with every job cold: both, ratio

Jobs run warm (forked from the warm-start server, docs/warm-start.md) as in any local run; their
CPU seconds are then read from the job's log (the `benchmark:` file counts the waiting command's
only). Exit status 1 if the run fails or takes longer than --max-minutes (the target: 5; hard limit 10).
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

AGGREGATE = {"tables", "figures", "bundle"}
ORDER = ("hub", "testbed", "data", "train", "generate", "score", "evaluate", "aggregate")


def stage_of(relative: Path) -> str:
    """<root>/benchmarks/<stage>/... → the stage family (tables, figures and bundle are `aggregate`)."""
    first = relative.parts[0] if len(relative.parts) > 1 else relative.stem
    return "aggregate" if first in AGGREGATE else first


WARM_LINE = re.compile(r"debiaslab: ran warm .*?, ([0-9.]+) s CPU")


def job_seconds(run: Path) -> list[tuple[str, str, float, float]]:
    """(stage, job file relative to <root>/benchmarks, wall seconds, CPU seconds) of every benchmark file
    of a run. CPU seconds (`cpu_time`) move less than wall seconds when other processes share the cores;
    a warm job's are its forked child's (from its log, <root>/logs/<same path>.log) plus the command's."""
    root = run / _common.RESULTS / "benchmarks"
    out = []
    for path in sorted(root.rglob("*.tsv")):
        with path.open() as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows and rows[-1].get("s") not in (None, "", "NA"):
            rel = path.relative_to(root)
            cpu = rows[-1].get("cpu_time")
            cpu = float(cpu) if cpu not in (None, "", "NA", "-") else 0.0
            log = run / _common.RESULTS / "logs" / rel.with_suffix(".log")
            warm = WARM_LINE.findall(log.read_text(errors="replace")) if log.is_file() else []
            out.append((stage_of(rel), str(rel.with_suffix("")), float(rows[-1]["s"]), cpu + sum(map(float, warm))))
    return out


def warm_jobs(run: Path) -> int:
    return sum(
        1
        for log in (run / _common.RESULTS / "logs").rglob("*.log")
        if WARM_LINE.search(log.read_text(errors="replace"))
    )


def breakdown(jobs: list[tuple[str, str, float, float]], top: int = 5) -> str:
    """Per stage family: jobs, summed and largest wall seconds (`s`), summed CPU seconds, slowest job."""
    stages: dict[str, list[tuple[str, float, float]]] = {}
    for stage, name, seconds, cpu in jobs:
        stages.setdefault(stage, []).append((name, seconds, cpu))
    names = [s for s in ORDER if s in stages] + sorted(set(stages) - set(ORDER))
    lines = [f"{'stage':<10} {'jobs':>5} {'sum s':>9} {'max s':>8} {'cpu s':>8}  slowest job"]
    for stage in names:
        items = stages[stage]
        name, worst, _ = max(items, key=lambda x: x[1])
        lines.append(
            f"{stage:<10} {len(items):>5} {sum(i[1] for i in items):>9.1f} {worst:>8.1f} "
            f"{sum(i[2] for i in items):>8.1f}  {name}"
        )
    lines.append(
        f"{'all':<10} {len(jobs):>5} {sum(j[2] for j in jobs):>9.1f} {max(j[2] for j in jobs):>8.1f} "
        f"{sum(j[3] for j in jobs):>8.1f}"
    )
    lines.append(
        f"slowest {top} jobs: " + ", ".join(f"{j[1]} {j[2]:.1f} s" for j in sorted(jobs, key=lambda j: -j[2])[:top])
    )
    return "\n".join(lines)


def idle_core_seconds(log: str, cores: int) -> tuple[float, float]:
    """(idle core-seconds, span in seconds) of a Snakemake log: each `jobid: N` under a timestamp starts
    job N, `Finished jobid: N` ends it; idle = ∫ max(0, cores − running) dt over the log's span."""
    from datetime import datetime

    stamp = re.compile(r"^\[(\w{3} \w{3}\s+\d+ \d+:\d+:\d+ \d{4})\]")
    now = start = None
    running: set[int] = set()
    idle = 0.0
    for line in log.splitlines():
        m = stamp.match(line)
        if m:
            t = datetime.strptime(m.group(1), "%a %b %d %H:%M:%S %Y")
            if start is None:
                start = t
            if now is not None:
                idle += max(0, cores - len(running)) * (t - now).total_seconds()
            now = t
            continue
        if (m := re.match(r"^\s+jobid: (\d+)$", line)) and now is not None:
            running.add(int(m.group(1)))
        elif m := re.match(r"^Finished jobid: (\d+)", line):
            running.discard(int(m.group(1)))
    return idle, (now - start).total_seconds() if start else 0.0


def idle_line(run: Path, cores: int) -> str:
    logs = sorted((run / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        return "idle cores: no Snakemake log in the run"
    idle, span = idle_core_seconds(logs[-1].read_text(), cores)
    return (
        f"idle cores ({logs[-1].name}): {idle:.0f} core-s of {cores} x {span:.0f} s "
        f"({100 * idle / max(1.0, cores * span):.1f}%)"
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--from-run", default=None, help="only read this run's benchmark files (no new run)")
    p.add_argument("--keep", default=None, help="run in this (new or empty) folder and keep it")
    p.add_argument("--max-minutes", type=float, default=5.0, help="target; the hard limit is 10")
    p.add_argument(
        "--compare-cold",
        action="store_true",
        help="then run it again with every job cold (DEBIASLAB_WARM_START=0) and print both and their ratio",
    )
    a = p.parse_args(argv)

    if a.from_run:
        run = Path(a.from_run)
        _common.require(
            run, f"{_common.RESULTS}/benchmarks", build="make demo  (or: python benchmarks/default_run.py --keep DIR)"
        )
        jobs = job_seconds(run)
        print(f"benchmark files of {run.resolve()} ({len(jobs)} jobs; no wall time: not run here)")
        print(breakdown(jobs))
        print(idle_line(run, a.cores))
        return 0

    if a.keep and Path(a.keep).exists() and any(Path(a.keep).glob("results/*")):
        print(f"{a.keep} already holds results: --keep needs a new or empty folder", file=sys.stderr)
        return 2
    wall = timed_run(a, keep=a.keep, cold=False)
    if wall is None:
        return 1
    over = wall > a.max_minutes * 60
    if a.compare_cold:
        cold = timed_run(a, keep=None, cold=True)
        if cold is None:
            return 1
        print(f"warm vs cold: {wall:.1f} s vs {cold:.1f} s wall: cold/warm {cold / wall:.2f}x")
    return 1 if over else 0


def timed_run(a, keep: str | None, cold: bool) -> float | None:
    """Wall seconds of one default run from scratch in a fresh copy (None if it failed), with its breakdown printed."""
    env = dict(_common.env(), **({"DEBIASLAB_WARM_START": "0"} if cold else {}))
    with tempfile.TemporaryDirectory(prefix="bench-default-run-") as tmp:
        run = Path(keep) if keep else Path(tmp)
        _common.copy_workflow(run)
        start = time.perf_counter()
        proc = subprocess.run(
            [_common.snakemake_exe(), "--cores", str(a.cores), "all"], cwd=run, env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - start
        if proc.returncode:
            print(
                f"snakemake --cores {a.cores} all failed ({proc.returncode}) in {run}:\n"
                f"{(proc.stdout + proc.stderr)[-4000:]}",
                file=sys.stderr,
            )
            return None
        jobs = job_seconds(run)
        idle = idle_line(run, a.cores)
        warm = warm_jobs(run)
    over = wall > a.max_minutes * 60
    print(
        f"default run{' (every job cold)' if cold else ''} (snakemake --cores {a.cores} all, fresh copy"
        f"{f' kept in {keep}' if keep else ''}): {wall:.1f} s = {wall / 60:.2f} min wall for {len(jobs)} jobs "
        f"({warm} warm); target <= {a.max_minutes:g} min (hard limit 10)" + ("  OVER TARGET" if over else "")
    )
    print(breakdown(jobs))
    print(idle)
    return wall


if __name__ == "__main__":
    sys.exit(main())
