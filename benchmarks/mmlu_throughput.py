#!/usr/bin/env python
"""MMLU questions/second: debiaslab's one-forward scoring vs lm-eval's four-request log-likelihood.

Both score the same questions with the same model, batch size and threads; the script checks that
they predict the same letters and prints each method's throughput and their ratio.

    python benchmarks/mmlu_throughput.py                       # the testbed LM and MMLU set
    python benchmarks/mmlu_throughput.py --model Qwen/Qwen3-0.6B --data cais/mmlu --limit 20

The testbed model and set come from the default workflow; build just them with
`snakemake --cores 2 results/testbed/testbed/lm results/testbed/testbed/mmlu` (a few minutes on 2 cores).
Exit status 1 if the two methods disagree on any question or the ratio is below --min-ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import _common


def measure(model, tokenizer, rows, dev, settings, repeats: int):
    """Questions/second of each method: best of `repeats` timed passes, the two methods interleaved
    so that load from other processes hits both alike."""
    from debiaslab.evals.mmlu import score_questions

    methods = ("one_forward", "four_requests")
    for method in methods:  # warm-up
        score_questions(model, tokenizer, rows[: settings.batch_size], dev, settings, method)
    best = {m: float("inf") for m in methods}
    records = {}
    for _ in range(repeats):
        for method in methods:
            start = time.perf_counter()
            records[method] = score_questions(model, tokenizer, rows, dev, settings, method)
            best[method] = min(best[method], time.perf_counter() - start)
    return records, {m: len(rows) / best[m] for m in methods}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=f"{_common.RESULTS}/testbed/lm", help="causal LM: Hub name or folder")
    p.add_argument(
        "--data", default=f"{_common.RESULTS}/testbed/mmlu", help="cais/mmlu-format dataset: Hub name or folder"
    )
    p.add_argument("--name", default="all", help="dataset config")
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=None, help="first n questions per subject")
    p.add_argument("--k-shot", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5, help="timed passes per method (the best counts)")
    p.add_argument(
        "--replicate",
        type=int,
        default=4,
        help="score each question this many times per pass (the testbed set has 24; full batches time steadier)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1: what each workflow job runs with)")
    p.add_argument("--min-ratio", type=float, default=3.0)
    a = p.parse_args(argv)
    for path in (a.model, a.data):
        if path.startswith("results/") and not Path(path).exists():
            print(
                f"{path} not found: build the testbed first with\n"
                "  snakemake --cores 2 results/testbed/testbed/lm results/testbed/testbed/mmlu",
                file=sys.stderr,
            )
            return 2

    import torch

    from debiaslab.evals.common import load_evaluated
    from debiaslab.evals.mmlu import MMLUDataset, MMLUSettings, load_rows

    torch.set_num_threads(a.threads)
    s = MMLUSettings(
        dataset=MMLUDataset(path=a.data, name=a.name, split=a.split),
        k_shot=a.k_shot,
        limit=a.limit,
        batch_size=a.batch_size,
    )
    rows, dev = load_rows(s)
    model, tokenizer = load_evaluated(a.model, kind="causal")
    rows = rows * a.replicate
    records, qps = measure(model, tokenizer, rows, dev, s, a.repeats)
    (one, one_qps), (four, four_qps) = ((records[m], qps[m]) for m in ("one_forward", "four_requests"))
    same = one["prediction"].tolist() == four["prediction"].tolist()
    ratio = one_qps / four_qps
    print(
        f"model {a.model}: {len(rows)} questions per pass, best of {a.repeats} passes, batch {a.batch_size}, "
        f"{a.threads} threads"
    )
    print(f"one forward per question : {one_qps:10.1f} questions/s (accuracy {one['correct'].mean():.3f})")
    print(f"four requests (lm-eval)  : {four_qps:10.1f} questions/s (accuracy {four['correct'].mean():.3f})")
    print(f"ratio                    : {ratio:10.2f}x")
    print(f"identical predictions    : {same}")
    return 0 if same and ratio >= a.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
