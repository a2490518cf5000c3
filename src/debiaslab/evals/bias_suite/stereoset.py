"""StereoSet intrasentence (Nadeem et al., ACL 2021), scored as bias-bench (Meade et al. 2022) does.

Each example is a context with a BLANK about a target term (e.g. "The chess player was BLANK.") and
three fillings: stereotype, anti-stereotype and unrelated. Sentence scores follow bias-bench's
`StereoSetRunner`:
- masked LMs: the filling word's tokens are predicted one at a time, the BLANK replaced by the
  already-placed tokens and one mask ("[MASK]", then "hel[MASK]", ...); the score is the mean
  probability of the word's tokens. bias-bench encodes the word with a leading space for RoBERTa
  only; debiaslab does so for any tokenizer whose tokens change with a leading space (BPE vocabularies).
- causal LMs: the sentence's per-token geometric-mean probability, the first token conditioned on
  the tokenizer's BOS/EOS token (bias-bench's "unconditional start token"); compared here as the mean
  log-probability per token, which orders sentences identically.
Counts and scores (bias-bench's `stereoset_evaluation.py`): metrics.bias_benchmarks — SS, LMS per
target term averaged over terms, ICAT from the averages; per bias type and over all examples.

No StereoSet data ships (CC BY-SA 4.0; not in the package): give `dataset.path`, a Hub dataset in
the `McGill-NLP/stereoset` schema (config `intrasentence`, split `validation`: gold labels 0 / 1 / 2 =
anti-stereotype / stereotype / unrelated), a JSON-lines file in that schema (the testbed's), or the
original StereoSet JSON file ({"data": {"intrasentence": [...]}}, e.g. bias-bench's data/stereoset/test.json).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

LABELS = ("anti-stereotype", "stereotype", "unrelated")  # the Hub dataset's ClassLabel order


@dataclass(frozen=True)
class StereoSetDataset:
    path: str | None = None  # None: the benchmark is skipped (no data)
    name: str | None = None  # Hub config: "intrasentence"
    split: str = "validation"
    revision: str | None = None


@dataclass(frozen=True)
class StereoSetSettings:
    dataset: StereoSetDataset = field(default_factory=StereoSetDataset)
    bias_types: tuple[str, ...] | None = None  # None: all (gender, profession, race, religion)


def template_word(context: str, sentence: str) -> str:
    """The word that fills the BLANK: the sentence's word at the BLANK's position, punctuation stripped
    (bias-bench's `StereoSet.__create_intrasentence_examples__`)."""
    from debiaslab.core.io import DataError

    positions = [i for i, word in enumerate(context.split(" ")) if "BLANK" in word]
    if not positions:
        raise DataError(f"StereoSet context {context!r} has no BLANK")
    return sentence.split(" ")[positions[-1]].translate(str.maketrans("", "", string.punctuation))


def normalise(example: dict) -> dict:
    """One example as {id, bias_type, target, context, sentences: {gold label: sentence}}."""
    from debiaslab.core.io import DataError

    sents = example["sentences"]
    if isinstance(sents, dict):  # the Hub schema: a struct of lists
        sents = [{"sentence": s, "gold_label": g} for s, g in zip(sents["sentence"], sents["gold_label"])]
    by_label = {}
    for sent in sents:
        label = sent["gold_label"]
        by_label[LABELS[int(label)] if not isinstance(label, str) else label] = str(sent["sentence"])
    if set(by_label) != set(LABELS):
        raise DataError(
            f"StereoSet example {example['id']}: needs one sentence per gold label {LABELS}, got {sorted(by_label)}"
        )
    return {
        "id": str(example["id"]),
        "bias_type": str(example["bias_type"]),
        "target": str(example["target"]),
        "context": str(example["context"]),
        "sentences": by_label,
    }


def load_examples(s: StereoSetSettings) -> list[dict]:
    import json
    from pathlib import Path

    import pandas as pd

    from debiaslab.core.io import keep_values

    d = s.dataset
    path = Path(d.path)
    if path.suffix == ".json" and path.is_file():
        raw = json.loads(path.read_text(encoding="utf-8"))
        rows = raw["data"]["intrasentence"] if isinstance(raw, dict) and "data" in raw else raw
    else:
        from debiaslab.hub.datasets import load

        rows = load(d.path, d.split, name=d.name, revision=d.revision).to_list()
    examples = [normalise(row) for row in rows]
    if s.bias_types:
        kept = keep_values(
            pd.DataFrame({"bias_type": [e["bias_type"] for e in examples]}), "bias_type", s.bias_types, d.path
        )
        examples = [examples[i] for i in kept.index]
    return examples


def mlm_scores(model, tokenizer, examples: list[dict], batch_size: int) -> list[dict[str, float]]:
    """Per example and gold label: the mean probability of the filling word's tokens (bias-bench)."""
    import math

    from debiaslab.evals.corpus_perplexity import masked_token_logprobs

    items, owner = [], []
    for e, example in enumerate(examples):
        for label, sentence in example["sentences"].items():
            word = template_word(example["context"], sentence)
            plain = tokenizer(word, add_special_tokens=False)["input_ids"]
            spaced = tokenizer(f" {word}", add_special_tokens=False)["input_ids"]
            pieces = spaced if spaced != plain else plain
            for k, piece in enumerate(pieces):
                placed = tokenizer.decode(pieces[:k])
                ids = tokenizer(example["context"].replace("BLANK", f"{placed}{tokenizer.mask_token}"))["input_ids"]
                pos = ids.index(tokenizer.mask_token_id)
                items.append((ids[:pos] + [piece] + ids[pos + 1 :], pos))
                owner.append((e, label))
    probs: dict[tuple[int, str], list[float]] = {}
    for key, logprob in zip(owner, masked_token_logprobs(model, tokenizer, items, batch_size)):
        probs.setdefault(key, []).append(math.exp(logprob))
    return [{label: sum(probs[(e, label)]) / len(probs[(e, label)]) for label in LABELS} for e in range(len(examples))]


def causal_scores(model, tokenizer, examples: list[dict], batch_size: int, max_length: int) -> list[dict[str, float]]:
    """Per example and gold label: the sentence's mean log-probability per token (bias-bench's geometric mean)."""
    from debiaslab.evals.bias_suite.likelihood import sentence_loglikelihoods

    texts = [example["sentences"][label] for example in examples for label in LABELS]
    sums, counts = sentence_loglikelihoods(model, tokenizer, texts, batch_size, max_length)
    means = [v / max(n, 1) for v, n in zip(sums, counts)]
    return [dict(zip(LABELS, means[i : i + len(LABELS)])) for i in range(0, len(means), len(LABELS))]


def summary(records, boot, split: str) -> list[dict]:
    """stereoset_ss, stereoset_lms, stereoset_icat (0–100) over all examples (subset "all") and per bias
    type, with replicates over the examples resampled (`boot`: a core.statistics.Bootstrap)."""
    import numpy as np

    from debiaslab.metrics.bias_benchmarks import stereoset_outcomes, stereoset_scores

    groups = [("all", records)] + [(b, part) for b, part in records.groupby("bias_type", sort=True)]
    values = []
    for stream, (subset, part) in enumerate(groups):
        pro, related = stereoset_outcomes(part["stereotype"], part["anti-stereotype"], part["unrelated"])
        terms = part["target"].to_numpy()
        full = stereoset_scores(terms, pro, related, np.arange(len(part)))
        replicates = stereoset_scores(terms, pro, related, boot.indices(len(part), stream))
        values += [
            {
                "split": split,
                "subset": subset,
                "metric": f"stereoset_{k}",
                "value": float(full[k][0]),
                "n": len(part),
                "replicates": replicates[k],
            }
            for k in ("ss", "lms", "icat")
        ]
    return values


def score(model, tokenizer, kind: str, s: StereoSetSettings, boot, batch_size: int, max_length: int):
    """(score-store values with replicates over examples, per-example records) of a loaded masked or causal LM."""
    import pandas as pd

    examples = load_examples(s)
    if kind == "mlm":
        scores = mlm_scores(model, tokenizer, examples, batch_size)
    else:
        scores = causal_scores(model, tokenizer, examples, batch_size, max_length)
    records = pd.DataFrame(
        [{"id": e["id"], "bias_type": e["bias_type"], "target": e["target"]} | sc for e, sc in zip(examples, scores)]
    )
    return summary(records, boot, s.dataset.split), records
