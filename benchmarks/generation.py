#!/usr/bin/env python
"""Generation throughput: the package's batched sampling vs one prompt at a time.

Both sides call debiaslab.generation.autoregressive.generate (left padding, prompts sorted by token
length) on the same prompts with the same sampling settings and seed; only batch_size differs
(--batch-size vs 1). Prints responses/s and generated tokens/s of each and their ratio.

    python benchmarks/generation.py                                  # testbed LM, occupations prompts
    python benchmarks/generation.py --run-dir /path/to/run --prompts 32 --max-new-tokens 16
    python benchmarks/generation.py --gpu-config qwen3-0.6b          # real-size random weights (GPU)
    python benchmarks/generation.py --model results/smollm2/models/smollm2-135m-instruct/model --chat \
        --prompts 32 --repeats 2 --min-ratio 1                       # a real instruct model (GGUF import)

The testbed model and prompts come from the default workflow (`make demo`); build just them with
`snakemake --cores 2 results/testbed/testbed/lm results/testbed/data/occupations/prompts.parquet`.
Exit status 1 if the tokens/s ratio is below --min-ratio (the target: 10x).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import _common

MODEL = f"{_common.RESULTS}/testbed/lm"
PROMPTS = f"{_common.RESULTS}/data/occupations/prompts.parquet"


def counting_generate(model, counter: dict, pad_id: int):
    """Wrap model.generate to count the new tokens it returns (not padding after a row's end)."""
    inner = model.generate

    def generate(input_ids=None, **kwargs):
        out = inner(input_ids=input_ids, **kwargs)
        counter["tokens"] += int((out[:, input_ids.shape[1] :] != pad_id).sum())
        return out

    model.generate = generate


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", default=str(_common.REPO), help="a completed default run (default: this repository)")
    p.add_argument("--model", default=None, help=f"causal LM: Hub name or folder (default: RUN_DIR/{MODEL})")
    p.add_argument("--prompts-file", default=None, help=f"table with a `prompt` column (default: RUN_DIR/{PROMPTS})")
    p.add_argument("--prompts", type=int, default=64, help="how many prompts (the table's first n, cycled if short)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument(
        "--chat",
        action="store_true",
        help="wrap each prompt as the user turn of the model's chat template (an instruct model; "
        "generation's `chat: true`)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--repeats", type=int, default=3, help="timed passes per side (the best counts)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: what each workflow job runs with; on a shared 2-core machine two "
        "threads time the contention, not the batching)",
    )
    p.add_argument("--min-ratio", type=float, default=10.0)
    p.add_argument(
        "--gpu-config",
        default=None,
        help=f"sample from a random-weight model of this architecture instead: a preset ({', '.join(_common.PRESETS)}) "
        "or a config file; the testbed tokenizer supplies the ids",
    )
    p.add_argument(
        "--layers", type=int, default=None, help="with --gpu-config: override num_hidden_layers (tiny CPU checks)"
    )
    p.add_argument(
        "--override", nargs="*", default=[], metavar="KEY=VALUE", help="with --gpu-config: other config overrides"
    )
    a = p.parse_args(argv)

    run = Path(a.run_dir)
    prompts_path = Path(a.prompts_file) if a.prompts_file else _common.require(run, PROMPTS)[0]
    model_path = a.model or str(_common.require(run, MODEL)[0])

    from debiaslab import models
    from debiaslab.core.io import read_table
    from debiaslab.generation.autoregressive import SamplingSettings, generate

    _common.set_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="bench-gen-") as tmp:
        spec, what = model_path, f"model {model_path}"
        if a.gpu_config:
            values = _common.architecture(a.gpu_config, a.layers, _common.parse_overrides(a.override))
            built = _common.build_random_model(values, model_path, tmp)
            spec = built["spec"]
            what = (
                f"random {a.gpu_config} ({_common.describe_architecture(values)}; "
                f"{built['params'] / 1e6:.1f}M params, {spec['dtype']})"
            )
        tokenizer = models.load_tokenizer(spec, padding_side="left")
        model = models.load_model(spec)
        texts = read_table(prompts_path, required=["prompt"])["prompt"].tolist()
        prompts = [texts[i % len(texts)] for i in range(a.prompts)]
        if a.chat:
            from debiaslab.generation.responses import PromptFormat, format_prompts

            prompts = format_prompts(tokenizer, prompts, PromptFormat(chat=True))
        counter = {"tokens": 0}
        counting_generate(model, counter, tokenizer.pad_token_id)
        sides = {"batched": a.batch_size, "one at a time": 1}

        def side(batch_size):
            settings = SamplingSettings(
                max_new_tokens=a.max_new_tokens, temperature=a.temperature, top_p=a.top_p, batch_size=batch_size
            )

            def call(warmup: bool):
                counter["tokens"] = 0
                out = generate(
                    model,
                    tokenizer,
                    prompts[: min(4, len(prompts))] if warmup else prompts,
                    settings,
                    a.seed,
                    desc=f"generate (batch {batch_size})",
                )
                return len(out), counter["tokens"]

            return call

        best, results = _common.best_of({name: side(bs) for name, bs in sides.items()}, a.repeats)

    rps = {n: results[n][0] / best[n] for n in sides}
    tps = {n: results[n][1] / best[n] for n in sides}
    ratio, rps_ratio = tps["batched"] / tps["one at a time"], rps["batched"] / rps["one at a time"]
    print(f"{what}; {_common.device_line(a.threads)}")
    print(
        f"{len(prompts)} prompts from {prompts_path}{' (chat template)' if a.chat else ''}, "
        f"max_new_tokens {a.max_new_tokens}, temperature {a.temperature}, "
        f"top_p {a.top_p}, seed {a.seed}; best of {a.repeats} interleaved passes"
    )
    for name, bs in sides.items():
        print(
            f"{name:<14} (batch {bs:>3}): {rps[name]:9.2f} responses/s {tps[name]:10.1f} tokens/s "
            f"({results[name][1]} tokens in {best[name]:.3f} s)"
        )
    print(f"ratio (tokens/s)          : {ratio:9.2f}x   (responses/s: {rps_ratio:.2f}x; target >= {a.min_ratio:g}x)")
    return 0 if ratio >= a.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
