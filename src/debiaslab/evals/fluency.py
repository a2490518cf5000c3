"""Fluency of generated responses: their token-weighted perplexity under a reference LM.

A response evaluation: it scores what a run generated, not the run's model, so one job loads the
reference LM once and scores every run of an experiment (evals/corpus_perplexity.causal_nll).
Texts: `response` (the response alone), or `sentence` — a sentence completion (occupations):
the prompt's `prefix` plus the response up to its closing quote or line break, i.e. the sentence
the model completed. One score-store row per run and prompt split: fluency_perplexity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

END = re.compile(r'["\n]')


@dataclass(frozen=True)
class FluencySettings:
    text: str = "response"  # response | sentence (prefix + response up to its closing quote/newline)
    batch_size: int = 64
    max_length: int = 256  # longer texts are strided (evals/corpus_perplexity.py)


def completed_sentence(prefix: str, response: str) -> str:
    return (prefix + END.split(response, maxsplit=1)[0]).strip()


def texts(frame, mode: str) -> list[str]:
    if mode == "sentence":
        return [completed_sentence(p, r) for p, r in zip(frame["prefix"], frame["response"])]
    if mode == "response":
        return [str(r).strip() for r in frame["response"]]
    from debiaslab.core.config import ConfigError

    raise ConfigError(f"evaluations.fluency.text: must be response or sentence, got {mode!r}")


def score_values(frame, nll, count, boot) -> list[dict]:
    """fluency_perplexity per prompt split (the frame's `split` column, else "all"), with replicates over the
    split's texts (`boot`: a core.statistics.Bootstrap)."""
    from debiaslab.evals.corpus_perplexity import perplexity_values

    splits = frame["split"].tolist() if "split" in frame else ["all"] * len(frame)
    values = []
    for split in dict.fromkeys(splits):
        idx = [i for i, s in enumerate(splits) if s == split]
        values += perplexity_values(
            [nll[i] for i in idx], [count[i] for i in idx], boot, split, {"perplexity": "fluency_perplexity"}
        )
    return values


def evaluate_responses(reference, settings: dict, responses: list, runs: list, outs: list) -> dict:
    """Stage entry: every run's responses scored under the reference LM; one score file per run."""
    from debiaslab.core.config import ConfigError, build
    from debiaslab.core.io import read_table
    from debiaslab.core.progress import track
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.evals.common import load_evaluated
    from debiaslab.evals.corpus_perplexity import causal_nll

    if not len(responses) == len(runs) == len(outs):
        raise ConfigError(
            f"fluency: {len(responses)} responses files, {len(runs)} runs, {len(outs)} outputs; need one each"
        )
    s = build(FluencySettings, settings, "evaluations.fluency")
    model, tokenizer = load_evaluated(reference, kind="causal", padding_side="right")
    summary = {}
    for path, run, out in track(list(zip(responses, runs, outs)), "fluency", unit="runs"):
        frame = read_table(path, required=["prefix"] if s.text == "sentence" else [], text=["response"])
        nll, count = causal_nll(
            model,
            tokenizer,
            texts(frame, s.text),
            max_length=s.max_length,
            stride=max(1, s.max_length // 2),
            batch_size=s.batch_size,
        )
        values = score_values(frame, nll, count, Bootstrap(run.seed))
        write_scores(out, score_rows(run, values, {"reference": reference, **settings}))
        summary[f"{run.method}/{run.seed}"] = {v["split"]: round(v["value"], 3) for v in values}
    return summary
