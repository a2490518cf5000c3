"""MMLU by answer-letter log-likelihood, one forward pass per question (docs/evaluations.md#mmlu).

Data in the `cais/mmlu` schema (question, subject, choices, answer) by Hub name or Hub-format
folder (the testbed's set). Two prompt templates:
- `lm_eval` (default), lm-evaluation-harness's MMLU: "The following are multiple choice questions
  (with answers) about {subject}.\\n\\n" (subject with _ → space), then the question block;
- `cs329r`, the source study's: the question block alone;
the block being "{question}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:". k-shot prepends the subject's
first k dev questions, each block followed by " <letter>\\n\\n" (lm-eval's `first_n` sampler).

Scoring: lm-eval scores each of the four continuations " A".." D" as its own request (summed
log-probabilities over the full vocabulary; argmax, ties to the first). Where each continuation is
one token that extends the context's tokens — the case for every tokenizer in practice — its
request's input is exactly the context, so one forward pass of the context gives all four scores:
the log-softmax of the last position at the four letter tokens (where a tokenizer splits " A" into
" " + "A", the pass also reads the shared space). Questions where that does not hold
fall back to the four requests (`four_request_loglikelihoods`), so predictions always equal lm-eval's.
Questions that begin alike (a subject's header, a k-shot block) are batched together and the prompt
prefix a batch shares runs once (one_forward_loglikelihoods, PrefixCache): the same log-probabilities
up to float rounding, with fewer tokens through the model.
The source study parsed a generated letter instead (falling back to "A"); debiaslab does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LETTERS = ("A", "B", "C", "D")
TEMPLATES = ("lm_eval", "cs329r")
REQUIRED = ("question", "subject", "choices", "answer")


@dataclass(frozen=True)
class MMLUDataset:
    path: str = "cais/mmlu"
    name: str | None = "all"
    split: str = "test"
    dev_split: str = "dev"


@dataclass(frozen=True)
class MMLUSettings:
    dataset: MMLUDataset = field(default_factory=MMLUDataset)
    template: str = "lm_eval"
    k_shot: int = 0
    subjects: tuple[str, ...] | None = None  # None: every subject in the split
    limit: int | None = None  # first n questions per subject (None: all)
    batch_size: int = 16
    add_bos: bool = False  # lm-eval's HFLM adds no BOS for causal models by default


def question_block(row: dict) -> str:
    body = str(row["question"]).strip()
    return body + "".join(f"\n{letter}. {choice}" for letter, choice in zip(LETTERS, row["choices"])) + "\nAnswer:"


def header(subject: str) -> str:
    return f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"


def context(row: dict, shots: list[dict], template: str) -> str:
    """The prompt for one question: [header] + k answered dev questions + the question block."""
    if template not in TEMPLATES:
        raise ValueError(f"mmlu template must be one of {TEMPLATES}, got {template!r}")
    examples = "".join(f"{question_block(s)} {LETTERS[int(s['answer'])]}\n\n" for s in shots)
    return (header(row["subject"]) if template == "lm_eval" else "") + examples + question_block(row)


def contexts(rows: list[dict], dev_rows: list[dict], template: str, k_shot: int) -> list[str]:
    by_subject: dict[str, list[dict]] = {}
    for d in dev_rows:
        by_subject.setdefault(d["subject"], []).append(d)
    out = []
    for row in rows:
        shots = by_subject.get(row["subject"], [])[:k_shot]
        if len(shots) < k_shot:
            from debiaslab.core.io import DataError

            raise DataError(f"mmlu: subject {row['subject']!r} has {len(shots)} dev questions; k_shot={k_shot}")
        out.append(context(row, shots, template))
    return out


def encode_pair(tokenizer, ctx: str, continuation: str, add_bos: bool = False) -> tuple[list[int], list[int]]:
    """lm-eval's `_encode_pair` for causal models: encode context+continuation, split at len(context tokens)."""
    n_spaces = len(ctx) - len(ctx.rstrip())
    if n_spaces:
        ctx, continuation = ctx[:-n_spaces], ctx[-n_spaces:] + continuation
    whole = tokenizer(ctx + continuation, add_special_tokens=add_bos)["input_ids"]
    ctx_ids = tokenizer(ctx, add_special_tokens=add_bos)["input_ids"]
    return ctx_ids, whole[len(ctx_ids) :]


def letter_requests(tokenizer, contexts_: list[str], add_bos: bool = False):
    """Per question: context ids, the continuation ids of " A".." D", and whether one forward pass suffices."""
    return choice_requests(tokenizer, contexts_, [[f" {letter}" for letter in LETTERS]] * len(contexts_), add_bos)


def choice_requests(tokenizer, contexts_: list[str], choices: list[list[str]], add_bos: bool = False):
    """Per question: context ids, each choice's continuation ids (encode_pair's split) and whether one
    forward pass suffices.

    One pass is exact when the continuations extend these very context ids and differ only in their
    last token (" A" is one token, or " " + "A" with a shared space token): the pass reads the context
    plus the shared tokens and yields every continuation's log-probabilities. Choices that are longer
    texts (BBQ's answers) are scored one request each.
    """
    # encode_pair for every (context, choice) in one tokenizer call (ids only: no masks to build)
    stripped = [ctx.rstrip() for ctx in contexts_]
    wholes = [s + ctx[len(s) :] + choice for s, ctx, row in zip(stripped, contexts_, choices) for choice in row]
    enc = tokenizer(
        stripped + wholes, add_special_tokens=add_bos, return_attention_mask=False, return_token_type_ids=False
    )["input_ids"]
    ctx_enc, whole_enc = enc[: len(stripped)], enc[len(stripped) :]
    out, start = [], 0
    for ctx_ids, row in zip(ctx_enc, choices):
        whole = whole_enc[start : start + len(row)]
        start += len(row)
        conts = [w[len(ctx_ids) :] for w in whole]
        single = (
            all(w[: len(ctx_ids)] == ctx_ids for w in whole)
            and all(len(c) >= 1 for c in conts)
            and all(c[:-1] == conts[0][:-1] for c in conts)
        )
        out.append((ctx_ids, conts, single))
    return out


def common_prefix_length(rows, leave: int = 0) -> int:
    """How many leading tokens every row has in common, leaving each row at least `leave` tokens after them."""
    first, n = rows[0], min(map(len, rows)) - leave
    for k in range(max(n, 0)):
        if any(row[k] != first[k] for row in rows):
            return k
    return max(n, 0)


def by_shared_prefix(rows, batch_size: int):
    """Input indices in batches of `batch_size`, ordered so that rows that begin with the same tokens share
    a batch (the prefix they share can run once for the batch), and among those by length (less padding).

    Rows are grouped by their first `depth` tokens, `depth` being the median length of the prefix a row
    shares with its neighbours in token order: how far a set's inputs typically agree (a subject header,
    a k-shot block, a question stem). Within a group, rows go by length, then by token order.
    (Here, not in debiaslab.core.batching: only this scorer batches so, and batching's source is part of
    nearly every job's code fingerprint.)
    """
    import statistics
    from itertools import pairwise

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(rows)), key=lambda i: tuple(rows[i]))
    pairs = [common_prefix_length([rows[a], rows[b]]) for a, b in pairwise(order)]
    shared = [max(pairs[j - 1] if j else 0, pairs[j] if j < len(pairs) else 0) for j in range(len(order))]
    depth = int(statistics.median(shared)) if shared else 0
    order = sorted(range(len(rows)), key=lambda i: (tuple(rows[i][:depth]), len(rows[i]), tuple(rows[i])))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def cache_keyword() -> str:
    """The forward's key/value-cache argument: `cache` since transformers 5.2x, `past_key_values` before."""
    from transformers.modeling_outputs import CausalLMOutputWithPast

    return "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"


class PrefixCache:
    """The keys and values of a prompt prefix that batches share, computed once (one row) and copied to
    each row of a batch; the next batch reuses it where that computes fewer tokens than a new prefix.
    A model whose forward returns no KV cache (a custom module) gets no prefix: every batch runs whole."""

    def __init__(self, model, device):
        self.model, self.device, self.keyword = model, device, cache_keyword()
        self.tokens: tuple[int, ...] = ()
        self.cache = None
        self.usable = True

    def for_batch(self, tokens, rows: int):
        """(prefix length, a KV cache of it with `rows` rows, or None) for a batch whose rows all begin
        with `tokens`; (0, None) where the model keeps no cache."""
        import copy

        import torch

        tokens = tuple(tokens)
        reused = len(self.tokens)
        # reusing a shorter cached prefix leaves (len(tokens) - reused) more tokens to every row
        if self.usable and not (
            reused and tokens[:reused] == self.tokens and (len(tokens) - reused) * rows <= len(tokens)
        ):
            with torch.no_grad():
                out = self.model(input_ids=torch.tensor([tokens], device=self.device), use_cache=True, logits_to_keep=1)
            self.tokens, self.cache = tokens, getattr(out, self.keyword, None)
            self.usable = self.cache is not None
        if not self.usable:
            return 0, None
        cache = copy.deepcopy(self.cache)  # the forward appends the batch's keys and values to it
        cache.batch_repeat_interleave(rows)
        return len(self.tokens), cache


def one_forward_loglikelihoods(model, requests, batch_size: int, pad_id: int, share_prefix: bool = True):
    """{question index: [log-prob per choice]} for the one-pass questions: one left-padded forward each.

    Input: context + the continuations' shared tokens; only the last len(shared) + 1 positions get
    LM-head logits. A left-padded row gets the positions it would have alone (position ids).

    `share_prefix`: questions that begin alike (a subject's header, a k-shot block, a common stem) are
    batched together (by_shared_prefix), and the tokens every row of a batch begins with run
    once, their keys and values copied to each row (the model's own KV cache, as generate() reuses a
    prompt's; PrefixCache). The rest of each row follows them left-padded, [prefix][pad..][rest], the
    padding masked and the positions the row's own, so each row's log-probabilities are the ones it
    gets alone, up to float rounding (other matrix shapes: ~1e-5). lm-eval reuses one forward across a
    question's four letters (its logits cache); this also reuses the prompt that questions share.
    Without it, batches go longest first as lm-eval's do.
    """
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.core.progress import track
    from debiaslab.models import model_device

    device = model_device(model)
    index = [i for i, r in enumerate(requests) if r[2]]
    seqs = [requests[i][0] + requests[i][1][0][:-1] for i in index]
    if share_prefix:
        batches, prefixes = by_shared_prefix(seqs, batch_size), PrefixCache(model, device)
    else:
        batches = by_length([len(s) for s in seqs], batch_size, longest_first=True)  # as lm-eval sorts
    out: dict[int, list[float]] = {}
    with torch.no_grad():
        for batch in track(list(batches), "MMLU"):
            rows = [index[b] for b in batch]
            keep = max(len(requests[i][1][0]) for i in rows)
            shared = (
                common_prefix_length([seqs[b] for b in batch], leave=keep) if share_prefix and len(batch) > 1 else 0
            )
            prefix, cache = prefixes.for_batch(seqs[batch[0]][:shared], len(batch)) if shared else (0, None)
            extra = {prefixes.keyword: cache, "use_cache": True} if prefix else {}
            ids, mask = pad_batch([seqs[b][prefix:] for b in batch], pad_id, side="left")
            positions = (mask.cumsum(-1) - 1).clamp(min=0) + prefix
            if prefix:
                mask = torch.cat([torch.ones(len(batch), prefix, dtype=mask.dtype), mask], dim=1)
            logits = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
                logits_to_keep=keep,
                **extra,
            ).logits.float()
            logprobs = torch.log_softmax(logits, dim=-1).cpu()
            # one gather for the batch: per row, the shared tokens' log-probs at the positions that predict
            # them (a row's continuation is right-aligned in the kept positions), then the four letters'
            # at the position after them; shorter rows pad the shared part with a zero-weight index
            tokens = [requests[i][1][0][:-1] for i in rows]
            lead = torch.tensor([[0] * (keep - 1 - len(t)) + t for t in tokens], dtype=torch.long)
            weight = torch.tensor([[0.0] * (keep - 1 - len(t)) + [1.0] * len(t) for t in tokens])
            letters = torch.tensor([[c[-1] for c in requests[i][1]] for i in rows])
            before = (logprobs[:, :-1].gather(-1, lead[..., None])[..., 0] * weight).sum(-1)
            scores = before[:, None] + logprobs[:, -1].gather(-1, letters)
            for i, row in zip(rows, scores.tolist()):
                out[i] = row
    return out


def four_request_loglikelihoods(model, requests, batch_size: int, pad_id: int, questions=None):
    """{question index: [log-prob per choice]} the lm-eval way: each (context, continuation) its own request.

    Input = (context + continuation)[:-1], right-padded; the score = Σ log-softmax over the full
    vocabulary at the continuation's tokens. Batched, longest first.
    """
    import torch

    from debiaslab.core.batching import by_length, pad_batch
    from debiaslab.core.progress import track
    from debiaslab.models import model_device

    device = model_device(model)
    questions = range(len(requests)) if questions is None else questions
    flat = [(q, j) for q in questions for j in range(len(requests[q][1]))]
    seqs = [requests[q][0] + requests[q][1][j] for q, j in flat]
    scores: dict[int, list[float]] = {q: [0.0] * len(requests[q][1]) for q in questions}
    with torch.no_grad():
        for batch in track(
            list(by_length([len(s) for s in seqs], batch_size, longest_first=True)), "MMLU (four requests)"
        ):
            ids, mask = pad_batch([seqs[k][:-1] for k in batch], pad_id)
            logprobs = torch.log_softmax(
                model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float(), -1
            )
            # one gather for the batch: row r's continuation tokens at the positions predicting them
            # (from len(input) - len(continuation)); shorter continuations pad with zero weight
            conts = [requests[flat[k][0]][1][flat[k][1]] for k in batch]
            width = max(map(len, conts))
            gaps = [width - len(cont) for cont in conts]
            starts = [len(seqs[k]) - 1 - len(cont) for k, cont in zip(batch, conts)]  # predicts the first token
            pos = torch.tensor(
                [list(range(a, a + width - g)) + [0] * g for a, g in zip(starts, gaps)], dtype=torch.long
            )
            tokens = torch.tensor([list(cont) + [0] * g for cont, g in zip(conts, gaps)], dtype=torch.long)
            weight = torch.tensor([[1.0] * (width - g) + [0.0] * g for g in gaps])
            at = logprobs.gather(1, pos.to(device)[..., None].expand(-1, -1, logprobs.shape[-1]))
            values = (at.gather(2, tokens.to(device)[..., None])[..., 0] * weight.to(device)).sum(-1)
            for k, value in zip(batch, values.tolist()):
                q, j = flat[k]
                scores[q][j] = value
    return scores


def choice_loglikelihoods(model, requests, batch_size: int, pad_id: int, method: str = "one_forward"):
    """{question index: [log-prob per choice]}: one forward pass where it is exact, else one request per choice."""
    if method == "one_forward":
        scores = one_forward_loglikelihoods(model, requests, batch_size, pad_id)
        rest = [i for i, r in enumerate(requests) if not r[2]]
        if rest:
            scores.update(four_request_loglikelihoods(model, requests, batch_size, pad_id, rest))
        return scores
    if method == "four_requests":
        return four_request_loglikelihoods(model, requests, batch_size, pad_id)
    raise ValueError(f"mmlu method must be one_forward or four_requests, got {method!r}")


def predict(loglikelihoods: list[float]) -> int:
    """argmax with ties to the first (numpy's and lm-eval's rule)."""
    best = 0
    for j, value in enumerate(loglikelihoods):
        if value > loglikelihoods[best]:
            best = j
    return best


def score_questions(
    model, tokenizer, rows: list[dict], dev_rows: list[dict], s: MMLUSettings, method: str = "one_forward"
):
    """Per-question records: subject, answer, prediction, correct, the four log-likelihoods, how scored."""
    import pandas as pd

    requests = letter_requests(tokenizer, contexts(rows, dev_rows, s.template, s.k_shot), s.add_bos)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    scores = choice_loglikelihoods(model, requests, s.batch_size, pad_id, method)
    records = []
    for i, row in enumerate(rows):
        pred = predict(scores[i])
        records.append(
            {
                "subject": row["subject"],
                "answer": int(row["answer"]),
                "prediction": pred,
                "correct": pred == int(row["answer"]),
                "loglikelihoods": scores[i],
                "scoring": method if method == "four_requests" or not requests[i][2] else "one_forward",
            }
        )
    return pd.DataFrame(records)


def accuracy(records) -> dict:
    """Micro accuracy (over questions), macro accuracy (mean over subjects) and per-subject accuracy."""
    per_subject = records.groupby("subject")["correct"].agg(["mean", "size"])
    return {
        "micro": float(records["correct"].mean()),
        "macro": float(per_subject["mean"].mean()),
        "n": int(len(records)),
        "subjects": {s: (float(r["mean"]), int(r["size"])) for s, r in per_subject.iterrows()},
    }


def load_rows(s: MMLUSettings) -> tuple[list[dict], list[dict]]:
    """(test rows, dev rows) of the configured subjects, the first `limit` test questions per subject."""
    from debiaslab.core.io import DataError
    from debiaslab.hub.datasets import load_split

    d = s.dataset
    test = load_split(d.path, d.name, d.split, required=REQUIRED)
    dev = load_split(d.path, d.name, d.dev_split, required=REQUIRED) if s.k_shot else test.iloc[:0]
    for frame, split in ((test, d.split), (dev, d.dev_split)):
        bad = [i for i, c in enumerate(frame["choices"]) if len(c) != len(LETTERS)]
        if bad:
            raise DataError(
                f"{d.path} [{d.name}/{split}] row {bad[0]}: expected 4 choices, "
                f"got {len(frame['choices'].iloc[bad[0]])}"
            )
    if s.subjects:
        unknown = sorted(set(s.subjects) - set(test["subject"]))
        if unknown:
            raise DataError(f"{d.path} [{d.name}/{d.split}]: no question of subject(s) {unknown}")
        test = test[test["subject"].isin(s.subjects)]
    if s.limit:
        test = test.groupby("subject", sort=False).head(s.limit)
    return test.to_dict("records"), dev.to_dict("records")


def score_values(records, split: str, boot) -> list[dict]:
    """mmlu_acc (micro: over questions), mmlu_macro_acc (mean over subjects) and each subject's mmlu_acc, with
    replicates over questions resampled within each subject (`boot`: a core.statistics.Bootstrap), so
    every replicate has every subject, as the macro mean needs."""
    import numpy as np

    acc = accuracy(records)
    subjects = list(acc["subjects"])
    per_subject = {
        s: boot.of_mean(records.loc[records["subject"] == s, "correct"].astype(float), stream=k + 1)
        for k, s in enumerate(subjects)
    }
    sizes = np.array([per_subject[s]["n"] for s in subjects], dtype=np.float64)
    reps = np.stack([per_subject[s]["replicates"] for s in subjects])
    values = [
        {
            "split": split,
            "subset": "all",
            "metric": "mmlu_acc",
            "value": acc["micro"],
            "n": acc["n"],
            "replicates": (reps * sizes[:, None]).sum(axis=0) / sizes.sum(),
        },
        {
            "split": split,
            "subset": "all",
            "metric": "mmlu_macro_acc",
            "value": acc["macro"],
            "n": acc["n"],
            "replicates": reps.mean(axis=0),
        },
    ]
    values += [{"split": split, "subset": s, "metric": "mmlu_acc", **per_subject[s]} for s in subjects]
    return values


def evaluate(model_spec, settings: dict, run, out, *, adapter=None, projection=None, records_out=None) -> dict:
    """Stage entry: MMLU accuracy of the model (+ artifact) as score-store rows (split = the dataset split)."""
    from debiaslab.core.config import build
    from debiaslab.core.statistics import Bootstrap
    from debiaslab.core.store import score_rows, write_scores
    from debiaslab.evals.common import load_evaluated

    s = build(MMLUSettings, settings, "evaluations.mmlu")
    rows, dev = load_rows(s)
    model, tokenizer = load_evaluated(model_spec, kind="causal", adapter=adapter, projection=projection)
    records = score_questions(model, tokenizer, rows, dev, s)
    acc = accuracy(records)
    write_scores(out, score_rows(run, score_values(records, s.dataset.split, Bootstrap(run.seed)), settings))
    if records_out:
        from debiaslab.core.io import write_parquet

        write_parquet(records_out, records)
    return {
        "questions": acc["n"],
        "micro": acc["micro"],
        "macro": acc["macro"],
        "four_request_fallbacks": int((records["scoring"] != "one_forward").sum()),
    }
