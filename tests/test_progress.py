"""Progress lines in job logs (debiaslab/core/progress.py): counts, ETA and throttling; long loops log them."""

from __future__ import annotations

import logging

import pytest

from debiaslab.core import progress as progress_module
from debiaslab.core.progress import Progress, duration, track


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    return clock


def lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "debiaslab.core.progress"]


def test_duration_reads_as_seconds_minutes_or_hours():
    assert (duration(12.34), duration(185), duration(3725)) == ("12.3s", "3m05s", "1h02m")


def test_lines_after_the_first_item_then_every_interval_then_at_the_end(clock, caplog):
    caplog.set_level(logging.INFO, "debiaslab.core.progress")
    p = Progress("train x", 10, "steps", interval=30)
    for seconds in (5, 5, 5, 20, 5, 5, 5, 25, 5, 5):  # the item times; lines at t=5, 35, 70 and the end
        clock.now += seconds
        p.update(loss=0.5)
    p.close()
    assert lines(caplog) == [
        "train x: 1/10 steps (10%), 5.0s elapsed, ETA 45.0s, loss 0.5",
        "train x: 4/10 steps (40%), 35.0s elapsed, ETA 52.5s, loss 0.5",
        "train x: 8/10 steps (80%), 1m15s elapsed, ETA 18.8s, loss 0.5",
        "train x: 10/10 steps (100%), 1m25s elapsed, loss 0.5",
    ]


def test_a_resumed_loop_estimates_from_this_runs_items_and_quiet_loops_log_only_when_slow(clock, caplog):
    caplog.set_level(logging.INFO, "debiaslab.core.progress")
    p = Progress("train y", 100, "steps", done=90)
    clock.now += 2
    p.update()
    assert lines(caplog) == ["train y: 91/100 steps (91%), 2.0s elapsed, ETA 18.0s"]
    caplog.clear()
    for _ in track(range(5), "fast", quiet=True):
        clock.now += 1
    assert lines(caplog) == []
    for _ in track(range(5), "slow", quiet=True, interval=30):
        clock.now += 20
    assert lines(caplog) == [
        "slow: 2/5 batches (40%), 40.0s elapsed, ETA 1m00s",
        "slow: 4/5 batches (80%), 1m20s elapsed, ETA 20.0s",
        "slow: 5/5 batches (100%), 1m40s elapsed",
    ]


def test_desired_kl_trainer_logs_progress_every_epoch(tmp_path, caplog, one_torch_thread):
    """The desired-distribution trainer on a tiny causal LM: every epoch logs its batches' progress and an
    epoch line with the validation loss (on SmolLM2 it once logged nothing for 10 CPU-minutes)."""
    import re

    import pandas as pd
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from debiaslab.core.config import build
    from debiaslab.experiments.desired_distribution.data import write_sentences
    from debiaslab.methods.desired_kl import RealWorldKLSettings, train_desired_kl
    from debiaslab.testbed.tokenizer import train_causal

    write_sentences({"per_category": {"train": 6, "valid": 2, "test": 1}}, tmp_path / "sentences.parquet")
    tokenizer = train_causal(pd.read_parquet(tmp_path / "sentences.parquet")["sentence"].tolist(), 300)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(
        Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=8,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    settings = build(
        RealWorldKLSettings,
        {
            "max_epochs": 2,
            "patience": 5,
            "batch_size": 4,
            "eval_batch_size": 8,
            "learning_rate": 1e-3,
            "lora": {"r": 2, "alpha": 4, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        },
    )
    caplog.set_level(logging.INFO)
    summary = train_desired_kl(
        str(tmp_path / "lm"),
        tmp_path / "sentences.parquet",
        settings,
        42,
        tmp_path / "out",
        tmp_path / "checkpoints",
        desired="real_world",
        adaptive=True,
    )
    assert summary["epochs"] == 2
    messages = [r.getMessage() for r in caplog.records]
    for epoch in (1, 2):
        batch_lines = [m for m in messages if re.match(rf"train kl_real_world epoch {epoch}: \d+/\d+ batches", m)]
        assert (
            batch_lines
            and batch_lines[-1].split(": ")[1].split()[0].split("/")[0] == batch_lines[-1].split("/")[1].split()[0]
        )
        assert any(re.match(rf"epoch {epoch}/2: train loss [\d.e+-]+, validation KL [\d.e+-]+", m) for m in messages)
    assert any(m.startswith("before training: validation KL") for m in messages)
