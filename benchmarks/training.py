#!/usr/bin/env python
"""Training throughput (tokens/s) and peak memory of each trainer, through the package's entry points.

Every trainer of debiaslab/methods/registry.py (one method per trainer: `trainers()`) runs a few steps
(--steps) with the default config's testbed settings on the data the default run produced, each in its own process
(so its peak memory is its own):

    sft, dpo, inlp          occupations data (results/testbed/data/occupations/<method>/seed~42), testbed LM
    reinforce, rloo         reward_guided MCQ pool, testbed LM (rloo takes reinforce's testbed settings)
    forget_style            rm_forget style pairs, testbed style reward model (the forget-LoRA trainer)
    kl_equal, kl_real_world desired_distribution sentences, testbed masked LM (one epoch, as configured)

tokens/s counts the token positions (padding included) that go through the model's forward with
gradients on, from the first such forward to the last (steady state: loading, tokenization and the
final save are outside; REINFORCE's and RLOO's rollouts and reward passes are inside; the KL trainers'
PLL/MLM loss passes are inside, their validation passes outside). INLP trains
no weights: its figure is the feature pass (no gradient). `raw` (not a trainer) is one full-parameter
AdamW step per iteration on random tokens (--seq-len x --batch-size), the architecture's ceiling.
Peak memory: the process's peak RSS on CPU; torch.cuda.max_memory_allocated on a GPU.

    python benchmarks/training.py                                   # every trainer, testbed, 8 steps
    python benchmarks/training.py --methods sft dpo --steps 4 --run-dir /path/to/run
    python benchmarks/training.py --gpu-config qwen3-0.6b --methods sft raw --peak-tflops 989   # GPU
    python benchmarks/training.py --gpu-config qwen3-0.6b --layers 1 --override vocab_size=4096 hidden_size=128 \\
        intermediate_size=256 num_attention_heads=2 num_key_value_heads=1 head_dim=64 --methods raw   # CPU check

--gpu-config builds the architecture with random weights (a preset or a config.json/YAML; bf16 on a
GPU) and trains it instead of the testbed LM; MFU = 6·N·tokens/s / peak FLOP/s with N its parameter
count (6N counts the weight gradients that LoRA's frozen weights skip: an upper-bound convention).

--model trains a real causal LM (a Hub-format folder, e.g. SmolLM2-135M-Instruct converted by
`debiaslab models import-gguf`) instead of the testbed LM, on the same data and settings, with every
trainer that applies to a causal LM (forget_style needs a reward model; the KL trainers train LoRA).
On a real model one epoch of the KL trainers is too long for a benchmark, so their data is cut by
occupation: per gender category the first ceil(steps / categories) x batch_size training occupations
(about --steps batches) and one validation occupation.

    python benchmarks/training.py --model results/smollm2/models/smollm2-135m-instruct/model --steps 4

--config: the config whose settings the trainers take (default: the run's own copy, else this
repository's config/config.yaml). Build the inputs with `make demo`. Exit status 1 if a trainer fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

LM = f"{_common.RESULTS}/testbed/lm"
STYLE_RM = f"{_common.RESULTS}/testbed/style_rm"
DD_MLM = f"{_common.RESULTS}/testbed/desired_distribution_mlm"
DATA = {
    "sft": f"{_common.RESULTS}/data/occupations/sft/seed~42/train.parquet",
    "dpo": f"{_common.RESULTS}/data/occupations/dpo/seed~42/train.parquet",
    "inlp": f"{_common.RESULTS}/data/occupations/inlp/seed~42/train.parquet",
    "reinforce": f"{_common.RESULTS}/data/reward_guided/mcq.parquet",
    "rloo": f"{_common.RESULTS}/data/reward_guided/mcq.parquet",
    "forget_style": f"{_common.RESULTS}/data/rm_forget/train_pairs.parquet",
    "kl_equal": f"{_common.RESULTS}/data/desired_distribution/sentences.parquet",
    "kl_real_world": f"{_common.RESULTS}/data/desired_distribution/sentences.parquet",
}
CAUSAL_GENERATION_KEYS = ("max_new_tokens", "chat", "system_prompt")  # experiments/reward_guided CAUSAL_KEYS


def trainers() -> list[str]:
    """One method per trainer of the methods registry (the three forget_<mode> methods share one)."""
    from debiaslab.methods.registry import METHODS

    seen, out = set(), []
    for name, m in METHODS.items():
        key = (m.module, m.trainer, tuple(sorted(m.fixed.items())))
        if m.trained and key not in seen:
            seen.add(key)
            out.append(name)
    return out


def trainer_settings(method: str, config: dict, steps: int) -> tuple[dict, int | None]:
    """(settings, rows of data to keep) for a few steps of `method` at the default config's testbed values:
    the config slice each training rule passes, shortened to `steps` optimizer steps."""
    exps = config["experiments"]
    if method in ("sft", "dpo"):
        s = dict(exps["occupations"]["methods"][method]["train"], epochs=1)
        return s, steps * s.get("batch_size", 8) * s.get("gradient_accumulation_steps", 1)
    if method == "inlp":
        return dict(exps["occupations"]["methods"]["inlp"]["fit"]), None
    if method in ("reinforce", "rloo"):
        rg = exps["reward_guided"]
        s = dict(
            rg["methods"]["reinforce"]["train"],
            max_steps=steps,
            dataset_size=rg["dataset_sizes"][0],
            temperature=rg["temperatures"][0],
            reward=rg["reward"],
            generation={k: rg["generation"][k] for k in CAUSAL_GENERATION_KEYS if k in rg["generation"]},
        )
        if method == "rloo":
            from dataclasses import fields

            from debiaslab.methods.rloo import RLOOSettings

            s = {k: v for k, v in s.items() if k in {f.name for f in fields(RLOOSettings)}}
        return s, None
    if method == "forget_style":
        s = dict(exps["rm_forget"]["methods"]["forget_style"]["train"], pair_mode="style", epochs=1)
        return s, steps * s.get("batch_size", 8) * s.get("gradient_accumulation_steps", 1)
    if method in ("kl_equal", "kl_real_world"):
        # epochs, not steps: a batch is one occupation category's sentences, and the data's splits
        # (train/valid occupations) cannot be cut to a few steps' rows; one epoch is the default run's
        return dict(exps["desired_distribution"]["methods"][method]["train"], max_epochs=1), None
    raise KeyError(method)


class TokenCounter:
    """Counts token positions through a model's input embeddings while gradients are on (training
    forwards; rollouts and reference passes run under no_grad/inference_mode), with timestamps."""

    def __init__(self, count_all: bool = False):
        self.calls: list[tuple[float, int]] = []
        self.count_all = count_all
        self.params = 0

    def hook(self, module, args):
        import torch

        if (torch.is_grad_enabled() or self.count_all) and args and torch.is_tensor(args[0]):
            self.calls.append((time.perf_counter(), int(args[0].numel())))

    def attach(self, model) -> None:
        if not self.params:
            self.params = sum(p.numel() for p in model.parameters())
        model.get_input_embeddings().register_forward_pre_hook(self.hook)

    def rate(self, end: float) -> tuple[int, float, float]:
        """(tokens, seconds, tokens/s): tokens of every forward but the last over first→last forward;
        with a single forward, that one over first forward→end."""
        if not self.calls:
            return 0, 0.0, 0.0
        tokens = sum(n for _, n in self.calls)
        if len(self.calls) == 1:
            seconds = end - self.calls[0][0]
            return tokens, seconds, tokens / seconds if seconds > 0 else 0.0
        seconds = self.calls[-1][0] - self.calls[0][0]
        return tokens, seconds, (tokens - self.calls[-1][1]) / seconds


def peak_memory_mb() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def raw_steps(spec, steps: int, batch_size: int, seq_len: int, counter: TokenCounter) -> dict:
    """Full-parameter causal-LM steps (forward, backward, AdamW) on random token ids."""
    import torch

    from debiaslab import models

    tokenizer = models.load_tokenizer(spec)
    model = models.load_model(spec, trainable=True)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        ids = torch.randint(0, len(tokenizer), (batch_size, seq_len), generator=generator).to(device)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return {"steps": steps}


def child(a) -> int:
    """One method in this process; prints one `RESULT {json}` line."""
    import torch

    from debiaslab import models

    _common.set_threads(a.threads)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    job = json.loads(a.child)
    counter = TokenCounter(count_all=job["method"] == "inlp")
    load_model = models.load_model

    def counting_load_model(*args, **kwargs):
        model = load_model(*args, **kwargs)
        counter.attach(model)
        return model

    models.load_model = counting_load_model  # the entry points look it up at call time
    baseline = peak_memory_mb()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        if job["method"] == "raw":
            summary = raw_steps(job["model"], a.steps, a.batch_size, a.seq_len, counter)
        else:
            from debiaslab.methods.registry import run

            summary = run(
                job["method"],
                model=job["model"],
                data=job["data"],
                settings=job["settings"],
                seed=42,
                out=Path(tmp) / "out",
                checkpoints=Path(tmp) / "checkpoints",
            )
    end = time.perf_counter()
    tokens, seconds, rate = counter.rate(end)
    result = {
        "method": job["method"],
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": rate,
        "forwards": len(counter.calls),
        "wall_s": end - start,
        "peak_mb": peak_memory_mb(),
        "start_mb": baseline,
        "params": counter.params,
        "steps": summary.get("global_step", summary.get("steps")),
        "gradient": job["method"] != "inlp",
    }
    print("RESULT " + json.dumps(result))
    return 0


def kl_occupations(frame, steps: int, batch_size: int):
    """The KL trainers' sentences cut to about `steps` training batches: per gender category the first
    ceil(steps / categories) x batch_size training occupations, and one validation occupation each."""
    import math

    train = frame[frame["split"] == "train"]
    per_category = math.ceil(steps / train["prof_gender"].nunique()) * batch_size
    keep = set()
    for split, n in (("train", per_category), ("valid", 1)):
        part = frame[frame["split"] == split]
        for _, names in part.drop_duplicates("profession").groupby("prof_gender", sort=False)["profession"]:
            keep.update((split, name) for name in names.iloc[:n])
    return frame[[(s, p) in keep for s, p in zip(frame["split"], frame["profession"])]]


def prepare(method: str, run: Path, config: dict, a, tmp: Path, model_spec) -> dict:
    """The child's job: model spec, data file (a few steps' rows, written to tmp) and settings."""
    import pandas as pd

    if method == "raw":
        return {"method": method, "model": model_spec or str(_common.require(run, LM)[0])}
    data = _common.require(run, DATA[method])[0]
    settings, rows = trainer_settings(method, config, a.steps)
    for key, value in a.set.get(method, {}).items():
        settings[key] = value
    if a.model and method in ("kl_equal", "kl_real_world"):
        frame = kl_occupations(pd.read_parquet(data), a.steps, settings.get("batch_size", 8))
        data = tmp / f"{method}.parquet"
        frame.to_parquet(data)
    if method == "forget_style":
        if model_spec is not None:
            return {}
        model = str(_common.require(run, STYLE_RM)[0])
    elif method in ("kl_equal", "kl_real_world"):  # the testbed's masked LM, or a --gpu-config causal LM (LoRA)
        model = model_spec or str(_common.require(run, DD_MLM)[0])
    else:
        model = model_spec or str(_common.require(run, LM)[0])
    if rows is not None:
        frame = pd.read_parquet(data)
        if method == "forget_style":
            frame = frame[frame["mode"] == "style"]
        frame = frame.iloc[:rows]
        data = tmp / f"{method}.parquet"
        frame.to_parquet(data)
    return {"method": method, "model": model, "data": str(data), "settings": settings}


def main(argv=None) -> int:
    methods = trainers() + ["raw"]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", default=str(_common.REPO), help="a completed default run (default: this repository)")
    p.add_argument("--methods", nargs="+", choices=methods, default=None, help="default: every trainer")
    p.add_argument(
        "--steps",
        type=int,
        default=8,
        help="optimizer steps per trainer (INLP: its configured fit; kl_equal, kl_real_world: one epoch)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: what each workflow job runs with; on a shared 2-core machine two "
        "threads time the contention, not the batching)",
    )
    p.add_argument("--batch-size", type=int, default=8, help="raw: sequences per step")
    p.add_argument("--seq-len", type=int, default=512, help="raw: tokens per sequence")
    p.add_argument(
        "--model",
        default=None,
        help="train this causal LM (Hub-format folder or name) instead of the testbed LM, with every trainer "
        "that applies to one (default methods: all but forget_style)",
    )
    p.add_argument(
        "--config",
        default=None,
        help="config file whose settings the trainers take "
        "(default: RUN_DIR/config/config.yaml, else this repository's)",
    )
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="METHOD.KEY=VALUE",
        help="change one trainer setting, e.g. kl_equal.batch_size=2 (values read as JSON where they parse)",
    )
    p.add_argument(
        "--gpu-config",
        default=None,
        help=f"train a random-weight model of this architecture instead of the testbed LM: a preset "
        f"({', '.join(_common.PRESETS)}) or a config file",
    )
    p.add_argument("--layers", type=int, default=None, help="with --gpu-config: override num_hidden_layers")
    p.add_argument("--override", nargs="*", default=[], metavar="KEY=VALUE", help="with --gpu-config: config overrides")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="peak bf16 dense TFLOP/s for MFU (H100 SXM: 989)")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        return child(a)

    from debiaslab.experiments.registry import load

    if a.model and a.gpu_config:
        p.error("give --model or --gpu-config, not both")
    changes: dict[str, dict] = {}
    for key, value in _common.parse_overrides(a.set).items():
        method, dot, name = key.partition(".")
        if not dot or method not in methods:
            p.error(f"--set {key}: expected METHOD.KEY=VALUE with METHOD one of {', '.join(trainers())}")
        changes.setdefault(method, {})[name] = value
    a.set = changes
    if a.methods is None:
        a.methods = [m for m in trainers() if m != "forget_style"] if a.model else trainers()
    run = Path(a.run_dir)
    config_path = (
        Path(a.config) if a.config else run / "config" / "config.yaml"
    )  # the run's own copy, else this repository's
    if not a.config and not config_path.exists():
        config_path = _common.REPO / "config" / "config.yaml"
    config = load(config_path, _common.REPO / "workflow" / "schemas" / "config.schema.yaml")
    results, failed = [], []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp_dir:
        tmp = Path(tmp_dir)
        model_spec, what = None, f"testbed models of {run}"
        if a.model:
            model_spec, what = json.dumps({"path": a.model}), f"model {a.model}"
        elif a.gpu_config:
            values = _common.architecture(a.gpu_config, a.layers, _common.parse_overrides(a.override))
            built = _common.build_random_model(values, _common.require(run, LM)[0], tmp / "model")
            model_spec = json.dumps(built["spec"])
            what = (
                f"random {a.gpu_config} ({_common.describe_architecture(values)}; "
                f"{built['params'] / 1e6:.1f}M params, {built['spec']['dtype']})"
            )
        jobs = [prepare(m, run, config, a, tmp, model_spec) for m in a.methods]
        for job in jobs:
            if not job:
                continue
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                json.dumps(job),
                "--threads",
                str(a.threads),
                "--steps",
                str(a.steps),
                "--batch-size",
                str(a.batch_size),
                "--seq-len",
                str(a.seq_len),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=_common.env())
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                failed.append(job["method"])
                print(f"{job['method']}: failed ({proc.returncode})\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            results.append(json.loads(lines[-1][len("RESULT ") :]))

    kl = "about that many batches (occupations cut)" if a.model else "one epoch"
    changed = (
        "; changed: " + ", ".join(f"{m}.{k}={v}" for m, kv in a.set.items() for k, v in kv.items()) if a.set else ""
    )
    print(
        f"{what}; {_common.device_line(a.threads)}; {a.steps} steps each"
        f" (INLP: its configured fit; kl_equal, kl_real_world: {kl}); settings of {config_path}{changed}"
    )
    if (a.gpu_config or a.model) and "forget_style" in a.methods:
        print("forget_style: skipped (needs a sequence-classification reward model; this is a causal LM)")
    print(
        f"{'method':<14} {'steps':>5} {'fwd':>4} {'tokens':>8} {'tokens/s':>10} {'peak MB':>9} {'wall s':>7}"
        + ("  MFU" if a.gpu_config else "")
    )
    for r in results:
        mfu = 6 * r["params"] * r["tokens_per_s"] / (a.peak_tflops * 1e12)
        note = "" if r["gradient"] else "  (feature pass, no gradient)"
        print(
            f"{r['method']:<14} {r['steps'] if r['steps'] is not None else '-':>5} {r['forwards']:>4} {r['tokens']:>8} "
            f"{r['tokens_per_s']:>10.1f} {r['peak_mb']:>9.0f} {r['wall_s']:>7.1f}"
            + (f"  {mfu:.1%}" if a.gpu_config else "")
            + note
        )
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
