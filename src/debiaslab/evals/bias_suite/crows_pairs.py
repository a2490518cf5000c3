"""CrowS-Pairs (Nangia et al. 2020): how often a model prefers the more stereotyping sentence of a pair.

Score = % of pairs whose `sent_more` the model scores higher than `sent_less`, overall, per bias
type and per direction (stereo / antistereo). The data ships with the package
(resources/crows_pairs/, CC BY-SA 4.0). Part of the bias suite (`evaluations.bias_suite.crows_pairs`);
`evaluations.crows_pairs` still runs it alone.

- Masked LMs: Nangia et al.'s pseudo-log-likelihood. The two sentences' token sequences are aligned
  (difflib on token ids); every token the two share (special tokens excepted) is masked one at a
  time and the log-probability of the original token at that position is summed. (bias-bench
  instead masks the *differing* tokens and averages; debiaslab follows the paper.)
- Causal LMs: the sentence log-likelihood Σ log p(token | prefix), the first token conditioned on the
  tokenizer's BOS (or EOS) token, as lm-evaluation-harness scores CrowS-Pairs.
Exact ties count as not preferring `sent_more` (the paper's "neutral" pairs); their share is reported.

All masked copies of all sentences are scored in length-sorted batches, computing the MLM head only
at the masked position: the 1,508 pairs take seconds with the testbed MLM.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

REQUIRED = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")


@dataclass(frozen=True)
class CrowsSettings:
    data: str | None = None  # a CSV in the CrowS-Pairs format; None: the packaged file
    batch_size: int = 1024  # masked copies per forward pass (short sentences)
    bias_types: tuple[str, ...] | None = None  # None: all nine
    max_length: int = 128


def packaged_data():
    from importlib.resources import files

    return files("debiaslab") / "resources" / "crows_pairs" / "crows_pairs_anonymized.csv"


def load_pairs(s: CrowsSettings):
    import pandas as pd

    from debiaslab.core.io import DataError, keep_values, require_columns

    source = s.data or packaged_data()
    try:
        frame = pd.read_csv(source)
    except FileNotFoundError:
        raise DataError(f"{source}: file not found") from None
    require_columns(frame, REQUIRED, source)
    return keep_values(frame, "bias_type", s.bias_types, source).reset_index(drop=True)


def shared_positions(ids1: list[int], ids2: list[int]) -> tuple[list[int], list[int]]:
    """Positions of the tokens the two sequences share, aligned by difflib (Nangia et al.'s `get_span`)."""
    matcher = difflib.SequenceMatcher(None, [str(i) for i in ids1], [str(i) for i in ids2], autojunk=False)
    one, two = [], []
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            one += range(a0, a1)
            two += range(b0, b1)
    return one, two


def mlm_pair_scores(
    model, tokenizer, more: list[str], less: list[str], s: CrowsSettings
) -> tuple[list[float], list[float]]:
    """Nangia et al.'s PLL of each sentence over the tokens it shares with its pair partner."""
    from debiaslab.evals.corpus_perplexity import masked_token_logprobs

    enc_more = tokenizer(more, truncation=True, max_length=s.max_length)["input_ids"]
    enc_less = tokenizer(less, truncation=True, max_length=s.max_length)["input_ids"]
    special = set(tokenizer.all_special_ids)
    items, owner = [], []
    for p, (a, b) in enumerate(zip(enc_more, enc_less)):
        pa, pb = shared_positions(a, b)
        for side, seq, positions in ((0, a, pa), (1, b, pb)):
            for pos in positions:
                if seq[pos] not in special:
                    items.append((seq, pos))
                    owner.append((p, side))
    logprobs = masked_token_logprobs(model, tokenizer, items, s.batch_size)
    scores = [[0.0] * len(more), [0.0] * len(more)]
    for (p, side), value in zip(owner, logprobs):
        scores[side][p] += value
    return scores[0], scores[1]


def pair_records(frame, more_scores, less_scores):
    records = frame[list(REQUIRED)].copy()
    records["score_more"] = more_scores
    records["score_less"] = less_scores
    records["prefers_more"] = records["score_more"] > records["score_less"]
    records["tie"] = records["score_more"] == records["score_less"]
    return records


def summary(records, boot, split: str = "test") -> list[dict]:
    """Score-store values: crows_stereotype_score (share preferring sent_more), overall and per bias type,
    crows_stereo_score / crows_antistereo_score by direction, crows_tie_rate; each with replicates over its
    pairs (`boot`: a core.statistics.Bootstrap)."""
    prefers, tie = records["prefers_more"].astype(float), records["tie"].astype(float)
    values = [
        {"split": split, "subset": "all", "metric": "crows_stereotype_score", **boot.of_mean(prefers)},
        {"split": split, "subset": "all", "metric": "crows_tie_rate", **boot.of_mean(tie)},
    ]
    for direction, part in records.groupby("stereo_antistereo"):
        values.append(
            {
                "split": split,
                "subset": "all",
                "metric": f"crows_{direction}_score",
                **boot.of_mean(part["prefers_more"].astype(float)),
            }
        )
    for bias, part in records.groupby("bias_type"):
        values.append(
            {
                "split": split,
                "subset": bias,
                "metric": "crows_stereotype_score",
                **boot.of_mean(part["prefers_more"].astype(float)),
            }
        )
    return values


def score_pairs(model, tokenizer, kind: str, frame, s: CrowsSettings):
    from debiaslab.evals.bias_suite.likelihood import sentence_loglikelihoods

    more, less = frame["sent_more"].astype(str).tolist(), frame["sent_less"].astype(str).tolist()
    if kind == "mlm":
        more_scores, less_scores = mlm_pair_scores(model, tokenizer, more, less, s)
    else:
        scores, _ = sentence_loglikelihoods(model, tokenizer, more + less, s.batch_size, s.max_length)
        more_scores, less_scores = scores[: len(more)], scores[len(more) :]
    return pair_records(frame, more_scores, less_scores)


def score(model, tokenizer, kind: str, s: CrowsSettings, boot, split: str = "test"):
    """(score-store values with replicates over pairs, per-pair records) of a loaded model."""
    records = score_pairs(model, tokenizer, kind, load_pairs(s), s)
    return summary(records, boot, split), records


def evaluate(model_spec, settings: dict, run, out, *, adapter=None, projection=None, records_out=None) -> dict:
    """Stage entry (`evaluations.crows_pairs`): CrowS-Pairs scores of the model (+ artifact) as score-store rows."""
    from debiaslab import models
    from debiaslab.core.config import build
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.evals.common import load_evaluated

    s = build(CrowsSettings, settings, "evaluations.crows_pairs")
    spec = models.ModelSpec.parse(model_spec)
    kind = spec.kind if spec.kind != "auto" else models.infer_kind(spec)
    if kind not in ("mlm", "causal"):
        from debiaslab.core.config import ConfigError

        raise ConfigError(f"evaluations.crows_pairs: model {spec.path} is a {kind} model; needs mlm or causal")
    model, tokenizer = load_evaluated(spec, kind=kind, adapter=adapter, projection=projection, padding_side="right")
    values, records = score(model, tokenizer, kind, s, Bootstrap(run.seed))
    write_scores(out, score_rows(run, values, settings))
    if records_out:
        from debiaslab.core.io import write_parquet

        write_parquet(records_out, records)
    return {"pairs": len(records), "stereotype_score": values[0]["value"], "scoring": "pll" if kind == "mlm" else "ll"}
