"""`snakemake --profile slurm all` against a real SLURM cluster (tests/slurm_cluster.py).

A reduced default workflow (occupations only, one seed, prompt_only and sft; a smaller testbed)
goes through snakemake-executor-plugin-slurm with the repository's slurm profile, as shipped,
on a one-node cluster with a fake `gpu:a100` GRES. The controller's record of every job then
shows which partition and GPUs each rule asked for: exactly the training jobs go to the GPU
partition with one A100; local rules never reach SLURM. Midway, the training job is requeued
(what preemption does); it starts again under the same job id and resumes from its checkpoint.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ENV, copy_workflow

pytestmark = pytest.mark.slurm

# The only overrides of the profile: speed on a one-node test cluster (docs/development.md#slurm-test-cluster,
# pitfall 8) and
# squeue status polling, as this cluster has no slurmdbd for sacct (pitfall 3).
TEST_CLUSTER_ARGS = ("--slurm-init-seconds-before-status-checks", "1", "--slurm-status-command", "squeue")


def reduced_config(config: dict) -> dict:
    """The default config, tiny: a barely trained testbed, one occupations seed, prompt_only and sft.
    (What is measured is where jobs run and that training survives a requeue, not what models learn.)
    SFT runs 19 steps with a checkpoint every 3, so the test can requeue it mid-run."""
    config["testbed"]["lm"]["steps"] = 30
    config["testbed"]["mlm"]["steps"] = 10
    occupations = config["experiments"]["occupations"]
    occupations["seeds"] = [42]
    sft = occupations["methods"]["sft"]
    sft["data"]["n_per_occupation"] = 10
    sft["train"].update(epochs=1, save_steps=3)
    occupations["methods"] = {"prompt_only": {}, "sft": sft}
    occupations["generation"].update(samples_per_occupation=2, max_new_tokens=16)
    occupations["evaluations"].pop("bias_suite")  # two more cluster jobs, nothing this test measures
    config["experiments"] = {"occupations": occupations}  # the other experiments add nothing this test measures
    return config


def rule_of(job: dict[str, str]) -> str:
    """The rule a job ran: the plugin's comment is `rule_<name>` or `rule_<name>_wildcards_<...>`."""
    match = re.match(r"rule_(\w+?)(?:_wildcards_.*)?$", job.get("Comment", ""))
    assert match, f"job {job.get('JobId')} has no rule comment: {job.get('Comment')!r}"
    return match.group(1)


def requeue_training_after_first_checkpoint(proc, cluster, workdir: Path) -> str:
    """Once the SFT job has written a checkpoint, requeue it as a preemption would (SIGTERM, back to
    the queue) and let it start again at once; return its job id."""
    checkpoints = workdir / "results/testbed/checkpoints/train/occupations/testbed-lm/sft/seed~42/adapter"
    deadline = time.monotonic() + 900
    while not any(checkpoints.glob("*/checkpoint-*/trainer_state.json")):
        assert proc.poll() is None, "the workflow ended before the training job wrote a checkpoint"
        assert time.monotonic() < deadline, "no training checkpoint within 900 s"
        time.sleep(0.1)
    (train,) = [job for job in cluster.jobs() if rule_of(job) == "train"]
    subprocess.run(["scontrol", "requeue", train["JobId"]], check=True, capture_output=True)
    # a requeued job waits (BeginTime) before it may start again; an administrator's update skips that
    while time.monotonic() < deadline:
        state = next(job for job in cluster.jobs() if job["JobId"] == train["JobId"])
        if state["JobState"] == "PENDING":
            subprocess.run(
                ["scontrol", "update", f"JobId={train['JobId']}", "StartTime=now"], check=True, capture_output=True
            )
            return train["JobId"]
        time.sleep(0.2)
    raise AssertionError("the requeued training job never returned to the queue")


def job_table(jobs: list[dict[str, str]]) -> str:
    rows = [("job", "rule", "state", "restarts", "partition", "GPU request", "cpus", "memory", "time limit")]
    for job in jobs:
        tres = job.get("TresPerJob") or job.get("TresPerNode") or "-"
        rows.append(
            (
                job["JobId"],
                rule_of(job),
                job.get("JobState", "?"),
                job.get("Restarts", "?"),
                job.get("Partition", "?"),
                tres if "gpu" in tres else "-",
                job.get("NumCPUs", "?"),
                job.get("MinMemoryNode", "?"),
                job.get("TimeLimit", "?"),
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows)


def test_profile_puts_training_on_a100s_only_and_a_requeued_training_job_resumes(tmp_path, report_section):
    from slurm_cluster import Cluster, ClusterUnavailable, ensure_packages

    reason = ensure_packages()
    if reason:
        pytest.skip(f"no real SLURM cluster: {reason}")
    workdir = copy_workflow(tmp_path / "repo")
    assert (workdir / "slurm").is_symlink(), "the profile is found as `slurm` from the repository root"
    config_path = workdir / "config/config.yaml"
    config_path.write_text(yaml.safe_dump(reduced_config(yaml.safe_load(config_path.read_text())), sort_keys=False))

    cluster = Cluster()
    try:
        cluster.start()
    except ClusterUnavailable as e:
        pytest.skip(f"no real SLURM cluster: {e}")
    with cluster:  # stops the daemons by PID on the way out
        start = time.monotonic()
        log = tmp_path / "snakemake.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "snakemake"), "--profile", "slurm", "all", *TEST_CLUSTER_ARGS],
                cwd=workdir,
                env=ENV,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
            try:
                requeued = requeue_training_after_first_checkpoint(proc, cluster, workdir)
                proc.wait(timeout=900)
            finally:
                if proc.poll() is None:
                    proc.kill()
        elapsed = time.monotonic() - start
        jobs = cluster.jobs()
        if proc.returncode != 0:
            raise AssertionError(
                f"snakemake --profile slurm all failed ({proc.returncode}):\n{log.read_text()[-6000:]}\n"
                f"{job_table(jobs) if jobs else ''}\n{cluster.logs()}"
            )

    table = job_table(jobs)
    summary_path = workdir / "results/testbed/train/occupations/testbed-lm/sft/seed~42/adapter/training_summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    report_section(
        f"SLURM jobs of `snakemake --profile slurm all` (reduced default config, {elapsed:.0f} s)",
        f"{table}\nthe sft training job requeued mid-run (job {requeued}); resumed from {summary.get('resumed_from')}",
    )
    assert (workdir / "results/testbed/tables/occupations.csv").is_file()
    assert all(job["JobState"] == "COMPLETED" for job in jobs), table

    by_rule: dict[str, list[dict]] = {}
    for job in jobs:
        by_rule.setdefault(rule_of(job), []).append(job)
    # cluster jobs: testbed pretraining (lm, mlm), SFT training, generation (prompt_only, sft), fluency;
    # the localrules (data, scoring, tables, testbed corpus/tokenizers) ran on the "login node"
    assert {rule: len(js) for rule, js in by_rule.items()} == {
        "testbed_pretrain": 2,
        "train": 1,
        "generate": 2,
        "fluency_occupations": 1,
    }, table
    # the requeued training job ran twice under one job id, and its second run resumed
    # (docs/slurm.md, "Resume, requeue, preemption")
    (train,) = by_rule["train"]
    assert train["JobId"] == requeued and train["Restarts"] == "1", train
    assert summary["resumed_from"] is not None and summary["global_step"] == 19, summary
    for rule, rule_jobs in by_rule.items():
        for job in rule_jobs:
            gpu_request = (job.get("TresPerJob") or "") + (job.get("TresPerNode") or "")
            if rule == "train":
                assert job["Partition"] == "gpu" and "gpu:a100:1" in gpu_request, (rule, job)
            else:
                assert job["Partition"] == "cpu" and "gpu" not in gpu_request, (rule, job)
