"""Training resumes after a kill, a SIGTERM (SLURM preemption, requeue, time limit) or a cut-short
checkpoint, and ends with exactly the adapter of an uninterrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ENV

SEED = 42


def _checkpoints(root: Path) -> dict[int, Path]:
    """Complete checkpoints (trainer_state.json is written last) by step."""
    return {int(p.parent.name.rsplit("-", 1)[1]): p.parent for p in root.glob("*/checkpoint-*/trainer_state.json")}


def _train_command(workdir: Path, out: Path, checkpoints: Path) -> list[str]:
    """Exactly the default run's sft training job (rule `train`) for this seed, apart from where it writes."""
    from debiaslab.core.config import as_json
    from debiaslab.experiments.registry import load

    config = load(workdir / "config/config.yaml", workdir / "workflow/schemas/config.schema.yaml")
    model = {k: v for k, v in config["models"]["testbed-lm"].items() if k not in ("size_b", "gated")}
    settings = config["experiments"]["occupations"]["methods"]["sft"]["train"]
    return [
        str(Path(sys.executable).parent / "debiaslab"),
        "--threads",
        "1",
        "train",
        "--method",
        "sft",
        "--model",
        as_json(model),
        "--data",
        f"results/testbed/data/occupations/sft/seed~{SEED}/train.parquet",
        "--settings",
        as_json(settings),
        "--seed",
        str(SEED),
        "--out",
        str(out),
        "--checkpoints",
        str(checkpoints),
    ]


def _run_until(cmd, workdir: Path, log: Path, ready, sig: int, timeout: float = 600) -> int:
    """Start training, send `sig` once `ready()` holds, return the exit code."""
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=workdir, env=ENV, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not ready():
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"training never reached the point to interrupt:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        assert proc.poll() is None, f"training ended before it could be interrupted:\n{log.read_text()[-3000:]}"
        proc.send_signal(sig)
        return proc.wait(timeout=timeout)


def _tensors(adapter: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(adapter / "adapter_model.safetensors"))


@pytest.mark.workflow
def test_interrupted_training_resumes_to_the_uninterrupted_adapter(default_run, tmp_path):
    reference = default_run / f"results/testbed/train/occupations/testbed-lm/sft/seed~{SEED}/adapter"
    out, checkpoints = tmp_path / "adapter", tmp_path / "checkpoints"
    cmd = _train_command(default_run, out, checkpoints)
    # default save_steps = 50 over 114 steps: periodic checkpoints at 50 and 100

    # 1. SIGTERM (what SLURM sends on preemption/requeue/time limit) after the first periodic
    #    checkpoint: the trainer checkpoints the step it is in, stops, exits 128+15, writes no output
    rc = _run_until(cmd, default_run, tmp_path / "term.log", lambda: 50 in _checkpoints(checkpoints), signal.SIGTERM)
    assert rc == 128 + signal.SIGTERM, (tmp_path / "term.log").read_text()[-3000:]
    assert not out.exists()
    stopped_at = max(_checkpoints(checkpoints))
    assert 50 < stopped_at < 100, stopped_at  # a checkpoint of its own, not the periodic one

    # 2. resume from it, then SIGKILL (no chance to save) after the next periodic checkpoint
    rc = _run_until(cmd, default_run, tmp_path / "kill.log", lambda: 100 in _checkpoints(checkpoints), signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert f"resuming from {checkpoints}/" in (tmp_path / "kill.log").read_text()
    assert f"/checkpoint-{stopped_at}" in (tmp_path / "kill.log").read_text()
    # a checkpoint cut short by a kill mid-save (no trainer_state.json) must be skipped, not resumed from
    partial = next(checkpoints.iterdir()) / "checkpoint-110"
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"cut short")

    # 3. the rerun resumes from the newest complete checkpoint and finishes
    proc = subprocess.run(cmd, cwd=default_run, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["resumed_from"] == "checkpoint-100" and summary["global_step"] == 114, summary
    assert not checkpoints.exists() or not any(checkpoints.iterdir()), "checkpoints are dropped after success"

    # the same adapter as the default run's uninterrupted job, tensor for tensor
    resumed, uninterrupted = _tensors(out), _tensors(reference)
    assert resumed.keys() == uninterrupted.keys()
    for name, tensor in uninterrupted.items():
        assert (resumed[name] - tensor).abs().max().item() <= 1e-6, name
