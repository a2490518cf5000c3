"""LLaDA-style masked-diffusion sampling, with the testbed's BERT MLM as a tiny mask predictor."""

import json

import pandas as pd
import pytest
import torch

from debiaslab import models
from debiaslab.data.mcq import eval_prompts
from debiaslab.experiments.reward_guided.data import make_pool
from debiaslab.generation.diffusion import (
    DiffusionSettings,
    encode_prompts,
    length_buckets,
    num_transfer_tokens,
    resolve_mask_id,
    sample,
)
from debiaslab.methods.policy import DiffusionPolicy

pytestmark = [pytest.mark.workflow, pytest.mark.usefixtures("one_torch_thread")]


# 2 blocks of 3 masks, 2 steps per block: LLaDA's schedule unmasks 2 then 1 token in each block
SETTINGS = DiffusionSettings(gen_length=6, steps=4, block_length=3, temperature=0.0)
SCHEDULE = [2, 1, 2, 1]


def test_schedule_by_hand():
    mask = torch.tensor([[True] * 10, [True] * 8 + [False] * 2])
    assert num_transfer_tokens(mask, 4).tolist() == [[3, 3, 2, 2], [2, 2, 2, 2]]
    assert num_transfer_tokens(torch.ones(1, 3, dtype=torch.bool), 2).tolist() == [SCHEDULE[:2]]
    with pytest.raises(ValueError, match="multiple of block_length"):
        DiffusionSettings(gen_length=6, block_length=4).check()
    with pytest.raises(ValueError, match="multiple of the number of blocks"):
        DiffusionSettings(gen_length=6, block_length=3, steps=3).check()


@pytest.fixture(scope="module")
def mlm(default_run):
    path = str(default_run / "results/testbed/testbed/mlm")
    tokenizer, model = models.load_tokenizer(path), models.load_model(path)
    prompts = list(eval_prompts(pd.DataFrame(make_pool(0, 64)))["prompt"])
    encoded = encode_prompts(tokenizer, prompts)
    batch = max(length_buckets(encoded, 4), key=len)  # equal-length prompts: no padding in a bidirectional model
    body = torch.tensor([encoded[i][0] for i in batch])
    suffix = torch.tensor(encoded[batch[0]][1], dtype=torch.long)
    return tokenizer, model, body, suffix


@pytest.mark.parametrize("temperature, remasking", [(0.0, "low_confidence"), (1.0, "low_confidence"), (1.0, "random")])
def test_unmasking_follows_the_schedule_inside_the_current_block(mlm, temperature, remasking):
    tokenizer, model, body, suffix = mlm
    mask_id = resolve_mask_id(tokenizer, SETTINGS)
    settings = DiffusionSettings(gen_length=6, steps=4, block_length=3, temperature=temperature, remasking=remasking)
    traj = sample(
        model, body, settings, mask_id, suffix_ids=suffix, generator=torch.Generator().manual_seed(0), record=True
    )
    start = body.shape[1]
    states = list(traj.states) + [traj.sequences]
    assert len(traj.states) == 4
    for step, transfer in enumerate(traj.transfers):
        block = range(start + 3 * (step // 2), start + 3 * (step // 2) + 3)
        assert transfer.sum(dim=1).tolist() == [SCHEDULE[step]] * len(body)
        rows, cols = transfer.nonzero(as_tuple=True)
        assert all(c in block for c in cols.tolist()), "only the current block is filled"
        assert (states[step][rows, cols] == mask_id).all(), "only masked positions are filled"
        changed = states[step + 1] != states[step]
        assert (changed == transfer).all(), "nothing but the chosen positions changes"
    assert (traj.sequences[:, :start] == body).all() and (traj.sequences[:, start + 6 :] == suffix).all()
    assert not (traj.generated == mask_id).any()
    assert traj.transfers.sum(dim=0)[:, start : start + 6].eq(1).all(), "every generated position is filled once"


def test_temperature_zero_is_deterministic(mlm):
    tokenizer, model, body, suffix = mlm
    mask_id = resolve_mask_id(tokenizer, SETTINGS)
    runs = [
        sample(model, body, SETTINGS, mask_id, suffix_ids=suffix, generator=torch.Generator().manual_seed(s)).sequences
        for s in (0, 1)
    ]
    assert torch.equal(runs[0], runs[1])
    hot = DiffusionSettings(gen_length=6, steps=4, block_length=3, temperature=1.0)
    noisy = [
        sample(model, body, hot, mask_id, suffix_ids=suffix, generator=torch.Generator().manual_seed(s)).sequences
        for s in (0, 1)
    ]
    assert not torch.equal(noisy[0], noisy[1])
    guided = DiffusionSettings(gen_length=6, steps=4, block_length=3, temperature=0.0, cfg_scale=1.0)
    assert sample(model, body, guided, mask_id, suffix_ids=suffix).sequences.shape == runs[0].shape


def test_trajectory_logprob_sums_the_unmasking_steps(mlm):
    tokenizer, model, body, suffix = mlm
    prompts = [tokenizer.decode(row, skip_special_tokens=True) for row in body]
    whole = DiffusionPolicy(model, tokenizer, SETTINGS, step_chunk=100)
    rollout = whole.rollout(prompts, temperature=1.0, seed=3, with_kl=False)[0]
    traj = rollout.tensors["trajectory"]
    with torch.no_grad():
        by_step = torch.zeros(len(prompts))
        for state, transfer in zip(traj.states, traj.transfers):  # log p(token chosen at step s | state s)
            logp = (
                torch.log_softmax(model(input_ids=state).logits, -1)
                .gather(-1, traj.sequences.unsqueeze(-1))
                .squeeze(-1)
            )
            by_step += (logp * transfer).sum(-1)
        one_at_a_time = sum(DiffusionPolicy(model, tokenizer, SETTINGS, step_chunk=1).logprob_chunks(rollout))
        together = sum(whole.logprob_chunks(rollout))
    assert together.tolist() == pytest.approx(by_step.tolist(), abs=1e-4)
    assert one_at_a_time.tolist() == pytest.approx(by_step.tolist(), abs=1e-4)


def test_reinforce_trains_a_diffusion_policy(default_run, tmp_path):
    from debiaslab.experiments.reward_guided.data import write_pool
    from debiaslab.methods import registry

    write_pool({"seed": 0, "n_eval": 16}, tmp_path / "pool.parquet")
    spec = {"path": str(default_run / "results/testbed/testbed/mlm"), "kind": "mlm", "diffusion": True}
    summary = registry.run(
        "reinforce",
        model=json.dumps(spec),
        data=tmp_path / "pool.parquet",
        seed=0,
        out=tmp_path / "adapter",
        checkpoints=tmp_path / "ckpt",
        settings={
            "learning_rate": 0.01,
            "batch_size": 4,
            "micro_batch_size": 2,
            "max_steps": 2,
            # the paper's baseline (none): a batch-mean baseline is 0 whenever the 4
            # rollouts happen to score alike, and then so is the step
            "baseline": "none",
            "dataset_size": 8,
            "temperature": 1.0,
            "generation": {"gen_length": 6, "steps": 6, "block_length": 3},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["query", "value"]},
        },
    )
    assert summary["diffusion"] is True and summary["steps"] == 2
    metrics = pd.read_csv(tmp_path / "adapter/training_metrics.csv")
    assert len(metrics) == 2 and set(metrics["lemmatizer"]) == {"identity"}
    assert metrics["mean_kl"].iloc[0] == 0  # LoRA starts as the identity: the policy is the base
    assert metrics["mean_kl"].iloc[1] > 0  # one AdamW step later it is not
    assert (tmp_path / "adapter/adapter_model.safetensors").is_file()


@pytest.mark.parametrize("policy, stop", [("diffusion", "kill"), ("causal", "kill"), ("causal", "sigterm")])
def test_reinforce_resumes_to_the_uninterrupted_adapter(default_run, tmp_path, monkeypatch, policy, stop):
    """Stopped after step 2, a rerun resumes there and ends with the uninterrupted run's adapter, LoRA
    dropout included (its draws must not depend on what ran before the resume). kill: the process dies
    in step 3, after the periodic step-2 checkpoint; sigterm (SLURM preemption or time limit) arrives in
    step 2: the trainer checkpoints that step itself and exits 143."""
    import os
    import signal

    from safetensors.torch import load_file

    from debiaslab.experiments.reward_guided.data import write_pool
    from debiaslab.methods import registry, reinforce

    write_pool({"seed": 0, "n_eval": 16}, tmp_path / "pool.parquet")
    if policy == "diffusion":
        spec = json.dumps({"path": str(default_run / "results/testbed/testbed/mlm"), "kind": "mlm", "diffusion": True})
        generation, targets = {"gen_length": 6, "steps": 6, "block_length": 3}, ["query", "value"]
    else:
        spec = json.dumps({"path": str(default_run / "results/testbed/testbed/lm"), "kind": "causal"})
        generation, targets = {"max_new_tokens": 8}, ["q_proj", "v_proj"]
    settings = {
        "learning_rate": 0.01,
        "batch_size": 2,
        "micro_batch_size": 2,
        "max_steps": 4,
        "save_steps": 2 if stop == "kill" else 50,
        "baseline": "none",
        "dataset_size": 8,
        "temperature": 1.0,
        "generation": generation,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.3, "target_modules": targets},
    }

    def train_into(out):
        return registry.run(
            "reinforce",
            model=spec,
            data=tmp_path / "pool.parquet",
            seed=0,
            out=out,
            checkpoints=tmp_path / "ckpt",
            settings=settings,
        )

    train_into(tmp_path / "uninterrupted")
    steps, rollout_batch = [], reinforce.rollout_batch

    def interrupted(*args, **kwargs):
        steps.append(1)
        if stop == "kill" and len(steps) == 3:
            raise KeyboardInterrupt("killed")
        if stop == "sigterm" and len(steps) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return rollout_batch(*args, **kwargs)

    monkeypatch.setattr(reinforce, "rollout_batch", interrupted)
    with pytest.raises(KeyboardInterrupt if stop == "kill" else SystemExit) as stopped:
        train_into(tmp_path / "resumed")
    if stop == "sigterm":
        assert stopped.value.code == 128 + signal.SIGTERM and len(steps) == 2
    assert not (tmp_path / "resumed").exists()
    monkeypatch.setattr(reinforce, "rollout_batch", rollout_batch)
    summary = train_into(tmp_path / "resumed")
    assert summary["resumed_from_step"] == 2
    resumed = load_file(str(tmp_path / "resumed/adapter_model.safetensors"))
    uninterrupted = load_file(str(tmp_path / "uninterrupted/adapter_model.safetensors"))
    assert resumed.keys() == uninterrupted.keys()
    assert any((t != 0).any() for name, t in uninterrupted.items() if "lora_B" in name)  # it trained
    for name, tensor in uninterrupted.items():
        assert (resumed[name] - tensor).abs().max().item() <= 1e-6, name
