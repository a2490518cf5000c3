#!/usr/bin/env python
"""Scoring throughput: the package's batched scorers vs the same function one input at a time.

Each scorer runs on the default run's own data, batched (sorted by length, --batch-size) and with
batch size 1, interleaved, best of --repeats; the script prints inputs/s of both sides, their ratio,
and the largest difference between the two sides' scores (batching must not change a score):

- bias_classifier: P(label | response), metrics.response_scores.label_probabilities, on the
  `safety` responses (testbed bias classifier);
- reward_model: the (prompt, response) reward, metrics.response_scores.reward_scores, same responses
  (testbed reward model);
- style_rm: the scalar reward of every RM-Bench response, data.reward_inputs.score (the rm_forget
  sweep's scorer; testbed style reward model);
- mmlu: MMLU letters, evals.mmlu.score_questions one forward per question (testbed LM and MMLU set).

    python benchmarks/scoring.py                                 # all four, on this repository's results/testbed/
    python benchmarks/scoring.py --run-dir /path/to/run --scorers style_rm mmlu --repeats 1

Build the inputs with `make demo` (the whole default run). Exit status 1 if any ratio is below
--min-ratio (the target: 5x) or batching changed a score by more than --tolerance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import _common

SCORERS = ("bias_classifier", "reward_model", "style_rm", "mmlu")
RESPONSES = f"{_common.RESULTS}/generate/safety"
BIAS_CLASSIFIER = f"{_common.RESULTS}/testbed/bias_classifier"
REWARD_MODEL = f"{_common.RESULTS}/testbed/reward_model"
STYLE_RM = f"{_common.RESULTS}/testbed/style_rm"
RM_ITEMS = f"{_common.RESULTS}/data/rm_forget/rmbench_items.parquet"
LM = f"{_common.RESULTS}/testbed/lm"
MMLU = f"{_common.RESULTS}/testbed/mmlu"


def safety_responses(run: Path, n: int):
    """(prompts, responses, bias types) of every generated `safety` response, cycled to n."""
    import pandas as pd

    files = sorted((run / RESPONSES).glob("*/*/seed~*/responses.parquet"))
    if not files:
        _common.require(run, RESPONSES + "/<model>/<method>/seed~<seed>/responses.parquet")
    frame = pd.concat(
        [pd.read_parquet(f, columns=["bias_type", "prompt", "response"]) for f in files], ignore_index=True
    )
    rows = [frame.iloc[i % len(frame)] for i in range(n)]
    return [r["prompt"] for r in rows], [r["response"] or "" for r in rows], [r["bias_type"] for r in rows]


def classifier_case(run: Path, a):
    from debiaslab import models
    from debiaslab.metrics.response_scores import label_probabilities

    path = str(_common.require(run, BIAS_CLASSIFIER)[0])
    model, tokenizer = models.load_model(path, kind="seq-cls"), models.load_tokenizer(path)
    _, texts, bias_types = safety_responses(run, a.items)
    label = bias_types[0]

    def call(batch_size):
        return lambda items: label_probabilities(model, tokenizer, texts[:items], label, batch_size, a.max_length)

    return path, f"P({label} | response)", call


def reward_case(run: Path, a):
    from debiaslab import models
    from debiaslab.metrics.response_scores import reward_scores

    path = str(_common.require(run, REWARD_MODEL)[0])
    model, tokenizer = models.load_model(path, kind="seq-cls"), models.load_tokenizer(path)
    prompts, texts, _ = safety_responses(run, a.items)

    def call(batch_size):
        return lambda items: reward_scores(model, tokenizer, prompts[:items], texts[:items], batch_size, a.max_length)

    return path, "reward of (prompt, response)", call


def style_rm_case(run: Path, a):
    from debiaslab import models
    from debiaslab.core.io import read_parquet
    from debiaslab.data.reward_inputs import encode, score
    from debiaslab.experiments.rm_forget.scoring import item_responses
    from debiaslab.methods.forget_lora import load_reward_model

    path, items_path = (str(p) for p in _common.require(run, STYLE_RM, RM_ITEMS))
    tokenizer = models.load_tokenizer(path, padding_side="right")
    model = load_reward_model(path, tokenizer=tokenizer)
    rows = item_responses(read_parquet(items_path))
    rows = [rows[i % len(rows)] for i in range(a.items)]
    encoded = encode(tokenizer, [r["prompt"] for r in rows], [r["response"] for r in rows])

    def call(batch_size):
        return lambda items: score(model, tokenizer, encoded[:items], batch_size)

    return path, "RM-Bench response reward", call


def mmlu_case(run: Path, a):
    from debiaslab.evals.common import load_evaluated
    from debiaslab.evals.mmlu import MMLUDataset, MMLUSettings, load_rows, score_questions

    lm, data = (str(p) for p in _common.require(run, LM, MMLU))
    model, tokenizer = load_evaluated(lm, kind="causal")
    settings = MMLUSettings(dataset=MMLUDataset(path=data, name="all", split="test"))
    rows, dev = load_rows(settings)
    rows = [rows[i % len(rows)] for i in range(a.items)]

    def call(batch_size):
        s = MMLUSettings(dataset=settings.dataset, batch_size=batch_size)
        return lambda items: [
            ll for lls in score_questions(model, tokenizer, rows[:items], dev, s)["loglikelihoods"] for ll in lls
        ]

    return f"{lm} on {data}", "MMLU letter log-likelihoods, one forward per question", call


CASES = {"bias_classifier": classifier_case, "reward_model": reward_case, "style_rm": style_rm_case, "mmlu": mmlu_case}
INPUTS = {
    "bias_classifier": (BIAS_CLASSIFIER, RESPONSES),
    "reward_model": (REWARD_MODEL, RESPONSES),
    "style_rm": (STYLE_RM, RM_ITEMS),
    "mmlu": (LM, MMLU),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", default=str(_common.REPO), help="a completed default run (default: this repository)")
    p.add_argument("--scorers", nargs="+", choices=SCORERS, default=list(SCORERS))
    p.add_argument("--items", type=int, default=128, help="inputs per pass (the data cycled if shorter)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=96, help="truncation of the classifier / reward model inputs")
    p.add_argument("--repeats", type=int, default=3, help="timed passes per side (the best counts)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: what each workflow job runs with; on a shared 2-core machine two "
        "threads time the contention, not the batching)",
    )
    p.add_argument("--min-ratio", type=float, default=5.0)
    p.add_argument(
        "--tolerance", type=float, default=1e-3, help="largest allowed |batched - unbatched| score difference"
    )
    a = p.parse_args(argv)
    run = Path(a.run_dir)
    for name in a.scorers:  # every input there before any model loads
        _common.require(run, *INPUTS[name])
    _common.set_threads(a.threads)
    print(
        f"{_common.device_line(a.threads)}; {a.items} inputs per pass, batch {a.batch_size} vs 1, "
        f"best of {a.repeats} interleaved passes"
    )
    ok = True
    for name in a.scorers:
        what, figure, call = CASES[name](run, a)
        sides = {"batched": call(a.batch_size), "one at a time": call(1)}
        best, results = _common.best_of(
            {
                side: (lambda fn: lambda warmup: fn(min(4, a.items) if warmup else a.items))(fn)  # noqa: B023 - `fn` is the outer lambda's own argument
                for side, fn in sides.items()
            },
            a.repeats,
        )
        rate = {side: a.items / best[side] for side in sides}
        ratio = rate["batched"] / rate["one at a time"]
        diff = max(abs(x - y) for x, y in zip(results["batched"], results["one at a time"]))
        good = ratio >= a.min_ratio and diff <= a.tolerance
        ok &= good
        print(f"{name}: {figure} ({what})")
        print(f"  batched (batch {a.batch_size:>3}) : {rate['batched']:10.1f} inputs/s")
        print(f"  one at a time       : {rate['one at a time']:10.1f} inputs/s")
        print(
            f"  ratio               : {ratio:10.2f}x  (target >= {a.min_ratio:g}x); "
            f"max |batched - unbatched| {diff:.2e}{'' if good else '  FAILS'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
