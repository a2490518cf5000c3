"""What the benchmark scripts share: where a run's files are, interleaved best-of timing, the
workflow copy, and a random-weight model of a real architecture for GPU figures.

Imported by the scripts beside it (`python benchmarks/<name>.py` puts this folder on sys.path);
heavy imports stay inside functions so `--help` and the workflow scripts start fast.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The default config's results root (config/config.yaml `name: testbed`; debiaslab/core/paths.py): where a
# completed default run's artifacts are, relative to its run directory.
RESULTS = "results/testbed"
# What a workflow copy needs (the package itself is installed editable); as tests/conftest.py copies.
WORKFLOW_FILES = ("Snakefile", "rules", "config", "workflow", "envs", "profiles", "slurm")
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}

# Qwen3-0.6B's shape (its config.json): the default real-size architecture for GPU figures.
PRESETS = {
    "qwen3-0.6b": {
        "model_type": "qwen3",
        "hidden_size": 1024,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "intermediate_size": 3072,
        "vocab_size": 151936,
        "max_position_embeddings": 40960,
        "rope_theta": 1000000,
        "tie_word_embeddings": True,
    },
}


class Missing(SystemExit):
    """A run artifact the benchmark needs is not there: the message names it and how to build it."""


def require(run_dir: str | Path, *relative: str, build: str = "make demo") -> list[Path]:
    """`run_dir/<relative>` for each path, or exit 2 naming the first missing one and the command to build it."""
    out = []
    for rel in relative:
        path = Path(run_dir) / rel
        if not path.exists():
            print(
                f"{path} not found: this benchmark reads a completed default run. Build it with\n"
                f"  {build}\n(in {Path(run_dir).resolve()}), or point --run-dir at a run that has it.",
                file=sys.stderr,
            )
            raise Missing(2)
        out.append(path)
    return out


def env(**extra: str) -> dict[str, str]:
    """The environment for workflow subprocesses: offline, this interpreter's bin first on PATH."""
    out = dict(os.environ, **OFFLINE, **extra)
    out["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{out.get('PATH', '')}"
    return out


def snakemake_exe() -> str:
    exe = Path(sys.executable).parent / "snakemake"
    return str(exe) if exe.exists() else "snakemake"


def copy_workflow(dest: Path, source: Path = REPO) -> Path:
    """The workflow files of `source` copied into `dest` (no results)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = source / name
        if src.is_symlink():
            (dest / name).unlink(missing_ok=True)
            (dest / name).symlink_to(os.readlink(src))
        elif src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def best_of(calls: dict, repeats: int, warmup: bool = True) -> tuple[dict[str, float], dict]:
    """Best wall seconds of each call over `repeats` passes, the calls interleaved (A B A B ...) so that
    load from other processes hits every side alike; returns (seconds, last result) per name."""
    if warmup:
        for fn in calls.values():
            fn(warmup=True)
    best = {name: float("inf") for name in calls}
    results = {}
    for _ in range(repeats):
        for name, fn in calls.items():
            start = time.perf_counter()
            results[name] = fn(warmup=False)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def set_threads(threads: int) -> None:
    """The thread count, and glibc's memory reuse as every `debiaslab` job sets it
    (runtime.process.keep_freed_memory)."""
    import torch

    from debiaslab.runtime.process import keep_freed_memory

    keep_freed_memory()

    torch.set_num_threads(threads)


def parse_overrides(pairs: list[str]) -> dict:
    """`key=value` strings; values read as JSON where they parse (numbers, true/false), else strings."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--override {pair!r}: expected key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def architecture(name_or_file: str, layers: int | None = None, overrides: dict | None = None) -> dict:
    """A config dict: a preset name (qwen3-0.6b) or a config.json/YAML file, with overrides applied."""
    if name_or_file in PRESETS:
        values = dict(PRESETS[name_or_file])
    else:
        import yaml

        path = Path(name_or_file)
        if not path.is_file():
            raise SystemExit(f"--gpu-config {name_or_file!r}: neither a preset ({', '.join(PRESETS)}) nor a file")
        values = yaml.safe_load(path.read_text())
    values.update(overrides or {})
    if layers is not None:
        values["num_hidden_layers"] = layers
    return values


def build_random_model(values: dict, tokenizer_dir: str | Path, out_dir: str | Path, dtype: str = "auto") -> dict:
    """Save a causal LM of the given architecture with random weights (plus the testbed tokenizer, whose
    ids all fall inside the vocabulary) in Hub format, so the package's loaders take it like any model.
    Returns the model spec (a dict) and its parameter count."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    values = dict(values)
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = AutoConfig.for_model(values.pop("model_type", "qwen3"), **values)
    if config.vocab_size < len(tok):
        raise SystemExit(f"vocab_size {config.vocab_size} is smaller than the tokenizer's {len(tok)} tokens")
    config.pad_token_id = tok.pad_token_id
    config.eos_token_id = tok.eos_token_id
    config.bos_token_id = None
    if dtype == "auto":
        dtype = "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    del model
    return {"spec": {"path": str(out_dir), "kind": "causal", "dtype": dtype}, "params": params}


def describe_architecture(values: dict) -> str:
    keys = (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "intermediate_size",
        "vocab_size",
    )
    return ", ".join(f"{k}={values[k]}" for k in keys if k in values)


def device_line(threads: int) -> str:
    import torch

    if torch.cuda.is_available():
        return f"device cuda ({torch.cuda.get_device_name(0)})"
    return f"device cpu, {threads} threads"
