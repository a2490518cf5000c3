#!/usr/bin/env python
"""Snakemake planning time: the dry-run of every full-scale config, of all of them merged, and the
no-op rerun of a completed default run.

Each dry-run is `snakemake -n -q all --configfile X` in a fresh copy of the workflow (no results:
the whole DAG is planned), timed as a whole process, best of --repeats. The merged config is the
union of every config's `models` and `experiments` (written to a temp file). With --run-dir (a
completed default run, e.g. what `make demo` leaves in this repository), the no-op rerun is
`snakemake --cores 2 all` there, after a dry-run has confirmed it has nothing to do (the run
directory is never changed: a run that is not up to date is reported, not rerun).

    python benchmarks/dry_run.py                                   # every config/experiments/*.yaml + merged
    python benchmarks/dry_run.py --run-dir .                       # + the no-op rerun of this repository's run
    python benchmarks/dry_run.py --configs config/experiments/safety.yaml --no-merged --repeats 1

Full-scale configs with gated models may need HF_TOKEN set; when it is unset, a dummy value is set
for the subprocesses (a dry-run never uses it). Exit status 1 if any time exceeds --max-seconds
(the target: 3 s each), 2 if the run directory is not a completed, up-to-date run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common


def merged_config(paths: list[Path]) -> tuple[dict, list[str]]:
    """Union of the configs' models and experiments (other top-level keys: first wins); a model entry
    defined differently in two configs keeps the first value of each key and is reported."""
    import yaml

    merged: dict = {"models": {}, "experiments": {}}
    notes = []
    for path in paths:
        config = yaml.safe_load(path.read_text()) or {}
        for key, value in config.items():
            if key == "models":
                for name, entry in value.items():
                    have = merged["models"].setdefault(name, {})
                    for k, v in entry.items():
                        if k in have and have[k] != v:
                            notes.append(f"model {name}.{k}: {path.name} says {v!r}, kept {have[k]!r}")
                        have.setdefault(k, v)
            elif key == "experiments":
                for name, exp in value.items():
                    if name in merged["experiments"]:
                        notes.append(f"experiment {name}: defined again in {path.name}, kept the first")
                    merged["experiments"].setdefault(name, exp)
            else:
                merged.setdefault(key, value)
    return merged, notes


def timed(cmd: list[str], cwd: Path, env: dict, repeats: int) -> tuple[float, subprocess.CompletedProcess]:
    best, proc = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        if proc.returncode:
            break
    return best, proc


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--configs", nargs="*", default=None, help="configs to dry-run (default: every config/experiments/*.yaml)"
    )
    p.add_argument("--no-merged", action="store_true", help="skip the merged config")
    p.add_argument("--run-dir", default=None, help="a completed default run: also time its no-op rerun")
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="runs per command (the best counts)")
    p.add_argument("--max-seconds", type=float, default=3.0)
    a = p.parse_args(argv)

    import yaml

    configs = (
        [Path(c).resolve() for c in a.configs]
        if a.configs is not None
        else sorted((_common.REPO / "config" / "experiments").glob("*.yaml"))
    )
    extra = {}
    if not os.environ.get("HF_TOKEN"):
        extra["HF_TOKEN"] = "dummy-token-for-dry-runs"
        print("HF_TOKEN is unset: a dummy value is set for the snakemake subprocesses (dry-runs never use it)")
    env = _common.env(**extra)
    exe = _common.snakemake_exe()
    rows, ok = [], True
    with tempfile.TemporaryDirectory(prefix="bench-dry-run-") as tmp:
        work = _common.copy_workflow(Path(tmp) / "workflow")
        targets = [(c.name, c) for c in configs]
        if not a.no_merged and len(configs) > 1:
            merged, notes = merged_config(configs)
            for note in notes:
                print(f"merged config: {note}")
            path = Path(tmp) / "merged.yaml"
            path.write_text(yaml.safe_dump(merged, sort_keys=False))
            targets.append(
                (
                    f"merged ({len(configs)} configs: {len(merged['models'])} models, "
                    f"{len(merged['experiments'])} experiments)",
                    path,
                )
            )
        for name, path in targets:
            seconds, proc = timed([exe, "-n", "-q", "all", "--configfile", str(path)], work, env, a.repeats)
            if proc.returncode:
                print(
                    f"dry-run of {name} failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}",
                    file=sys.stderr,
                )
                return 1
            jobs = next((ln.split()[-1] for ln in proc.stdout.splitlines() if ln.strip().startswith("total")), "?")
            rows.append((f"dry-run {name}", seconds, f"{jobs} jobs"))

    if a.run_dir:
        run = Path(a.run_dir).resolve()
        _common.require(run, "Snakefile", f"{_common.RESULTS}/benchmarks")
        check = subprocess.run([exe, "-n", "-q", "all"], cwd=run, env=env, capture_output=True, text=True)
        pending = [ln for ln in check.stdout.splitlines() if ln.strip().startswith("total")]
        if check.returncode or pending:
            print(
                f"{run} is not a completed, up-to-date default run ({pending[0].split()[-1] if pending else 'error'} "
                f"jobs pending): run `snakemake --cores {a.cores} all` there first\n{check.stderr[-2000:]}",
                file=sys.stderr,
            )
            return 2
        seconds, proc = timed([exe, "--cores", str(a.cores), "all"], run, env, a.repeats)
        out = proc.stdout + proc.stderr
        if proc.returncode or "Nothing to be done" not in out:
            print(f"the no-op rerun in {run} did work or failed ({proc.returncode}):\n{out[-3000:]}", file=sys.stderr)
            return 1
        rows.append((f"no-op rerun ({run})", seconds, "nothing to be done"))

    print(f"best of {a.repeats} runs each; target <= {a.max_seconds:g} s")
    for name, seconds, what in rows:
        over = seconds > a.max_seconds
        ok &= not over
        print(f"{seconds:6.2f} s  {name}: {what}{'  OVER TARGET' if over else ''}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
