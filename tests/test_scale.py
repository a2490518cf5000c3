"""Scale without a cluster: the slurm profile's dry-runs from the repository root, GPU requests on
training rules only, resources scaled by model size and retry, multi-GPU launches through
accelerate, and the offline Hub cache (references, the download job, the token)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ENV, REPO

FULL_SCALE = sorted(p.name for p in (REPO / "config/experiments").glob("*.yaml"))
NO_TOKEN_ENV = {k: v for k, v in ENV.items() if k != "HF_TOKEN"}


def dry_run(*args: str, env=ENV, check: bool = True) -> tuple[list[dict], subprocess.CompletedProcess]:
    """Every job of `snakemake --profile slurm -n -p ARGS` run from the repository root:
    {"rule", "input", "output", "resources" (dict), "shell"}."""
    # --forceall: every job the profile would submit, whatever results/ of this checkout already holds
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--profile", "slurm", "-n", "-p", "--forceall", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    jobs, job = [], None
    for line in (proc.stdout + proc.stderr).splitlines():
        stripped = line.strip()
        if stripped.startswith(("rule ", "localrule ")) and stripped.endswith(":"):
            job = {"rule": stripped.split()[1].rstrip(":"), "input": "", "output": "", "resources": {}, "shell": None}
            jobs.append(job)
        elif job is not None and stripped.startswith(("input:", "output:")):
            key, _, value = stripped.partition(":")
            job[key] = value.strip()
        elif job is not None and stripped.startswith("resources:"):
            pairs = (item.split("=", 1) for item in stripped.partition(":")[2].split(", "))
            job["resources"] = {k.strip(): v.strip() for k, v in pairs}
        elif job is not None and line.startswith("Shell command:"):
            job["shell"] = line.partition(":")[2].strip()
    return jobs, proc


def is_training(job: dict) -> bool:
    return job["rule"] == "train"  # the one generic training rule (rules/train.smk)


def asks_for_a100(job: dict) -> bool:
    res = job["resources"]
    return (
        res.get("slurm_partition") == "gpu" and int(res.get("gpu", 0)) >= 1 and res.get("gpu_model") == "a100"
    ) or "gpu:a100" in res.get("gres", "")


def asks_for_gpu(job: dict) -> bool:
    res = job["resources"]
    return int(res.get("gpu", 0) or 0) > 0 or "gpu" in res.get("gres", "") or res.get("slurm_partition") == "gpu"


def check_gpu_requests(jobs: list[dict]) -> None:
    trained = [j for j in jobs if is_training(j)]
    assert trained, "the dry-run should schedule training jobs"
    missing = sorted({j["rule"] for j in trained if not asks_for_a100(j)})
    assert not missing, f"training jobs without an A100 request (profiles/slurm set-resources `train`): {missing}"
    others = sorted({j["rule"] for j in jobs if not is_training(j) and asks_for_gpu(j)})
    assert not others, f"non-training rules asking for a GPU: {others}"


# --- acceptance 3: dry-runs from the repository root, as the README documents ----------------------


def test_slurm_profile_dry_runs_all_from_the_repo_root():
    assert (REPO / "slurm").is_symlink() and (REPO / "slurm").resolve() == (REPO / "profiles/slurm").resolve()
    jobs, proc = dry_run("all")
    assert "Using profile slurm" in proc.stdout + proc.stderr
    check_gpu_requests(jobs)
    # the testbed names no Hub model or dataset: nothing to download
    assert not any(j["rule"] == "hub_download" for j in jobs)


@pytest.mark.parametrize("configfile", FULL_SCALE)
def test_full_scale_config_dry_runs_with_a100_requests_on_training_rules_only(configfile):
    jobs, _ = dry_run("all", "--configfile", f"config/experiments/{configfile}")
    check_gpu_requests(jobs)
    # Hub models come from the login node's download, never from a compute node
    downloads = [j for j in jobs if j["rule"] == "hub_download"]
    assert len(downloads) == 1 and downloads[0]["shell"].startswith("HF_HUB_OFFLINE=0 ")
    for job in jobs:
        if is_training(job) or job["rule"] == "generate":
            assert "/hub/manifest.json" in job["input"], (
                f"{job['rule']} loads a Hub model but does not wait for hub_download (use model_input): {job}"
            )


def test_training_resources_scale_with_model_size_and_attempt():
    jobs, _ = dry_run("all", "--configfile", "config/experiments/occupations.yaml")
    llama = next(j for j in jobs if j["rule"] == "train")  # Llama-3.1-8B: size_b 8
    jobs, _ = dry_run("all")
    tiny = next(j for j in jobs if j["rule"] == "train")  # the testbed: size_b 0
    assert int(llama["resources"]["mem_mb"]) > int(tiny["resources"]["mem_mb"])
    assert int(llama["resources"]["runtime"]) > int(tiny["resources"]["runtime"])
    # a retry (attempt 2) asks for twice the memory and time of the first attempt
    jobs, _ = dry_run("all", "--configfile", "config/experiments/occupations.yaml", "--attempt", "2")
    retry = next(j for j in jobs if j["rule"] == "train")
    for key in ("mem_mb", "runtime"):
        assert int(retry["resources"][key]) == 2 * int(llama["resources"][key]), key


def test_model_size_and_gating_stay_out_of_params():
    """size_b and gated schedule jobs; they are not in any job's params (no rerun when corrected)."""
    jobs, _ = dry_run("all", "--configfile", "config/experiments/occupations.yaml")
    for job in jobs:
        if job["shell"] and "--model" in job["shell"]:
            assert '"size_b"' not in job["shell"] and '"gated"' not in job["shell"], job["shell"][:300]


# --- multi-GPU: more than one GPU launches the trainer through accelerate -----------------------


def test_the_gpu_count_and_strategy_reach_the_training_command_from_resources():
    sft = "results/testbed/train/occupations/testbed-lm/sft/seed~42/adapter"
    jobs, _ = dry_run(sft, "--set-resources", "train:gpu=2")
    (train,) = [j for j in jobs if j["rule"] == "train"]
    assert train["shell"].startswith("debiaslab --gpus 2 --distributed ddp --threads "), train
    jobs, _ = dry_run(sft, "--set-resources", "train:gpu=4", "train:distributed=fsdp")
    (train,) = [j for j in jobs if j["rule"] == "train"]
    assert train["shell"].startswith("debiaslab --gpus 4 --distributed fsdp --threads "), train


def test_more_than_one_gpu_relaunches_the_command_under_accelerate(monkeypatch):
    """`debiaslab --gpus N` (N > 1) replaces itself by `accelerate launch` running the same command once per GPU;
    with one GPU, or for a method with a training loop of its own, it runs as it is."""
    from debiaslab.runtime import launch

    calls = []
    monkeypatch.setattr(launch.os, "execvp", lambda file, args: calls.append(args))
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    command = ["--threads", "8", "train", "--method", "sft", "--model", "m"]
    assert launch.relaunch(["--gpus", "1", "--distributed", "fsdp", *command]) == command and calls == []
    launch.relaunch(["--gpus", "2", "--distributed", "ddp", *command])
    ddp = REPO / "src/debiaslab/resources/accelerate/ddp.yaml"
    assert calls.pop() == [
        "accelerate",
        "launch",
        "--config_file",
        str(ddp),
        "--num_processes",
        "2",
        "-m",
        "debiaslab.cli",
        *command,
    ]
    launch.relaunch(["--gpus", "4", "--distributed", "my.yaml", *command])
    assert calls.pop()[:4] == ["accelerate", "launch", "--config_file", "my.yaml"]
    # INLP trains in a loop of its own: one process, whatever the GPU count
    inlp = ["--threads", "8", "train", "--method", "inlp", "--model", "m"]
    assert launch.relaunch(["--gpus", "4", *inlp]) == inlp and calls == []
    # already one of accelerate's processes: no second launch
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert launch.relaunch(["--gpus", "2", *command]) == command and calls == []


def test_accelerate_configs_load_and_the_cli_runs_as_a_module():
    from accelerate.commands.config.config_args import ClusterConfig

    ddp = ClusterConfig.from_yaml_file(str(REPO / "src/debiaslab/resources/accelerate/ddp.yaml"))
    fsdp = ClusterConfig.from_yaml_file(str(REPO / "src/debiaslab/resources/accelerate/fsdp.yaml"))
    assert str(ddp.distributed_type).endswith("MULTI_GPU") and str(fsdp.distributed_type).endswith("FSDP")
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    proc = subprocess.run(
        [sys.executable, "-m", "debiaslab.cli", "train", "--help"], capture_output=True, text=True, env=ENV
    )
    assert proc.returncode == 0 and "--checkpoints" in proc.stdout


# --- offline compute nodes: Hub references, the download job, the token ---------------------------


def test_hub_references_of_configs(tmp_path):
    from debiaslab.experiments.registry import load
    from debiaslab.hub.download import references

    schema = REPO / "workflow/schemas/config.schema.yaml"
    assert references(load(REPO / "config/config.yaml", schema), root=REPO) == {"models": [], "datasets": []}
    full = references(load(REPO / "config/experiments/occupations.yaml", schema), root=REPO)
    assert full["models"] == [
        {"repo": "meta-llama/Llama-3.1-8B-Instruct", "revision": None, "gated": True},
        {"repo": "openai-community/gpt2-xl", "revision": None, "gated": False},
    ]  # fluency

    (tmp_path / "local_model").mkdir()
    config = {
        "models": {
            "a": {"path": "bert-base-uncased"},
            "b": {"path": "results/testbed/lm"},
            "c": {"path": str(tmp_path / "local_model")},
            "d": {"path": "local_model"},
            "e": {"path": "Org/Model", "revision": "abc", "gated": True},
        },
        "experiments": {
            "x": {
                "data": {"dataset": "Anthropic/hh-rlhf"},
                "eval": {"dataset": {"path": "openai/gsm8k", "name": "main"}},
                "ppl": [
                    {"name": "w", "path": "Salesforce/wikitext", "hub_config": "wikitext-2-raw-v1"},
                    {"name": "f", "path": "data/x/file.tsv", "hub_config": None},
                ],
                "prompts": {"dataset": "results/testbed/safety/biased.jsonl"},
            }
        },
    }
    refs = references(config, root=tmp_path)
    assert refs["models"] == [
        {"repo": "Org/Model", "revision": "abc", "gated": True},
        {"repo": "bert-base-uncased", "revision": None, "gated": False},
    ]
    assert refs["datasets"] == [
        {"repo": "Anthropic/hh-rlhf", "name": None, "revision": None},
        {"repo": "Salesforce/wikitext", "name": "wikitext-2-raw-v1", "revision": None},
        {"repo": "openai/gsm8k", "name": "main", "revision": None},
    ]


def test_download_job_on_a_local_only_config_fetches_nothing(tmp_path):
    """The testbed names no Hub repository: the download step writes an empty manifest, offline."""
    refs = json.dumps({"models": [], "datasets": []})
    out = tmp_path / "manifest.json"
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "debiaslab"),
            "hub",
            "download",
            "--references",
            refs,
            "--cache",
            str(tmp_path / "cache"),
            "--out",
            str(out),
        ],
        env=dict(ENV, HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(out.read_text())
    assert manifest["models"] == [] and manifest["datasets"] == []
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.safetensors"))


def test_download_passes_revisions_skips_duplicate_weights_and_never_records_the_token(tmp_path, monkeypatch):
    import huggingface_hub

    from debiaslab.core.config import ConfigError
    from debiaslab.hub import download as hub

    calls = []

    def snapshot_download(repo_id, revision=None, cache_dir=None, ignore_patterns=None):
        calls.append((repo_id, revision, Path(cache_dir), ignore_patterns))
        return str(Path(cache_dir) / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "0123abcd")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    refs = {"models": [{"repo": "meta-llama/Llama-3.1-8B-Instruct", "revision": "main", "gated": True}], "datasets": []}
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(ConfigError, match="HF_TOKEN"):
        hub.download(refs, tmp_path / "cache", tmp_path / "manifest.json")
    assert not calls

    secret = "hf_secret_token_value"
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: os.environ.get("HF_TOKEN"))
    hub.download(refs, tmp_path / "cache", tmp_path / "manifest.json")
    ((repo, revision, cache_dir, ignore),) = calls
    assert (repo, revision, cache_dir) == (
        "meta-llama/Llama-3.1-8B-Instruct",
        "main",
        (tmp_path / "cache/hub").resolve(),
    )
    assert "*.pth" in ignore and "original/*" in ignore  # Meta's 16 GB consolidated checkpoint is never fetched
    manifest = (tmp_path / "manifest.json").read_text()
    assert json.loads(manifest)["models"][0]["commit"] == "0123abcd"
    assert secret not in manifest


@pytest.mark.workflow
def test_more_gpus_or_another_partition_rerun_nothing(default_run):
    """The launch and the cluster layout are resources, not params: a finished run stays finished."""
    from conftest import planned_jobs

    moved = planned_jobs(
        default_run,
        "all",
        "--set-resources",
        "train:gpu=4",
        "train:distributed=fsdp",
        "score_reward_guided:slurm_partition=other",
    )
    assert moved == set(), moved
