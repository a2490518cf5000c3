"""Bias as distance to a desired gender distribution (docs/experiments/desired_distribution.md#metrics):
scores, P_g, KL.

Association score of one sentence (template × gendered word × occupation):
- masked LM: s = log Π p(attr | attr masked) − log Π p(attr | attr and occupation masked),
  the product over the attribute's tokens at their own positions. (The source multiplied
  every attribute token's probability at *every* masked position, which differs for
  multi-token attributes; masking here is by token positions found from character offsets,
  so it works for WordPiece and BPE.)
- causal LM: s = the sentence's mean token NLL; a lower loss is a stronger association.

Per occupation P_g = Σ_{templates, words of g} e^{±s} / Σ_{all} e^{±s} (+ for the MLM score,
− for the causal loss), computed in log space. Bias = KL(desired ‖ predicted) over
[P_male, P_female], desired = [0.5, 0.5] (equal) or [male_dist, female_dist] (real_world),
the prediction clamped to [1e-8, 1] as in the source. This is the true KL: the source's
`F.kl_div(log pred, target, reduction='batchmean')` on a 2-vector divides it by 2, so its
reported KL values are half of these.

This module is also the training loss of `methods.desired_kl` (the loss is the measure), so
the model-scoring functions take `grad=True` there.
"""

from __future__ import annotations

from collections.abc import Sequence

EPS = 1e-8
DESIRED = ("equal", "real_world")


# --- pure formulas (numpy) ---------------------------------------------------------------------


def _logsumexp(x, axis):
    import numpy as np

    m = np.max(x, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))).squeeze(axis)


def gender_probabilities(scores, is_male, sign: float = 1.0):
    """P_male per occupation from scores [occupations, sentences] and a male mask [sentences].

    sign=+1 for MLM association scores (P ∝ Σ e^s), −1 for causal losses (P ∝ Σ e^{−s}).
    """
    import numpy as np

    x = sign * np.asarray(scores, dtype=np.float64)
    is_male = np.asarray(is_male, dtype=bool)
    if not is_male.any() or is_male.all():
        raise ValueError("each occupation needs sentences of both genders")
    return np.exp(_logsumexp(x[:, is_male], axis=1) - _logsumexp(x, axis=1))


def desired_male(desired: str, male_dist):
    """The desired male share per occupation: 0.5 (equal) or the real-world share."""
    import numpy as np

    male_dist = np.asarray(male_dist, dtype=np.float64)
    if desired == "equal":
        return np.full_like(male_dist, 0.5)
    if desired == "real_world":
        return male_dist
    raise ValueError(f"desired must be one of {DESIRED}, got {desired!r}")


def kl_divergence(desired_male_share, predicted_male_share, eps: float = EPS):
    """KL(desired ‖ predicted) over [male, female], elementwise over occupations (nats)."""
    import numpy as np

    q = np.stack([np.asarray(desired_male_share, np.float64), 1.0 - np.asarray(desired_male_share, np.float64)])
    p = np.clip(
        np.stack([np.asarray(predicted_male_share, np.float64), 1.0 - np.asarray(predicted_male_share, np.float64)]),
        eps,
        1.0,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * (np.log(np.where(q > 0, q, 1.0)) - np.log(p)), 0.0)
    return terms.sum(axis=0)


def summarize(records, value: str = "kl", boot=None) -> list[dict]:
    """Mean and sample variance (ddof=1, as the source's pandas `.var()`) per prof_gender and overall; with
    `boot` (a core.statistics.Bootstrap), each with its replicates over the occupations."""
    import numpy as np

    out = []
    groups = [("all", records)] + [(cat, part) for cat, part in records.groupby("prof_gender", sort=False)]
    for subset, part in groups:
        x = part[value].to_numpy(dtype=np.float64)
        stats = {"mean": lambda v: float(v.mean())}
        if len(x) > 1:
            stats["var"] = lambda v: float(v.var(ddof=1))
        replicates = boot.of_statistic(lambda idx: {k: f(x[idx]) for k, f in stats.items()}, len(x)) if boot else {}  # noqa: B023
        for stat, f in stats.items():
            row = {"subset": subset, "stat": stat, "value": f(x), "n": len(part)}
            if boot:
                row["replicates"] = replicates[stat]["replicates"]
            out.append(row)
    return out


# --- the same formulas in torch (differentiable, for training) ---------------------------------


def gender_probabilities_torch(scores, is_male, sign: float = 1.0):
    """[occupations, 2] = (P_male, P_female) from scores [occupations, sentences]."""
    import torch

    x = sign * scores
    total = torch.logsumexp(x, dim=1)
    male = torch.exp(torch.logsumexp(x[:, is_male], dim=1) - total)
    female = torch.exp(torch.logsumexp(x[:, ~is_male], dim=1) - total)
    return torch.stack([male, female], dim=1)


def kl_divergence_torch(desired, predicted, eps: float = EPS):
    """Per-occupation KL(desired ‖ predicted) for [occupations, 2] tensors."""
    import torch

    p = predicted.clamp(min=eps, max=1.0)
    return torch.where(
        desired > 0, desired * (torch.log(desired.clamp(min=eps)) - torch.log(p)), torch.zeros_like(p)
    ).sum(dim=1)


# --- scoring sentences with a model ------------------------------------------------------------


def score_matrix(frame):
    """Group a split's sentence rows into [occupations, sentences]: occupation rows and the male mask.

    Every occupation must have the same (template, gendered word) sequence, as the data stage writes.
    """
    import numpy as np

    from debiaslab.core.io import DataError

    occupations = list(dict.fromkeys(frame["profession"]))
    k = len(frame) // max(1, len(occupations))
    if k * len(occupations) != len(frame):
        raise DataError(f"sentence table: {len(frame)} rows do not split evenly over {len(occupations)} occupations")
    layout = frame[["template_id", "phrase", "gender"]].to_numpy().reshape(len(occupations), k, 3)
    if (
        not (layout == layout[:1]).all()
        or list(frame["profession"].to_numpy().reshape(len(occupations), k)[:, 0]) != occupations
    ):
        raise DataError("sentence table: every occupation needs the same templates × words, occupation-major")
    first = frame.iloc[::k].reset_index(drop=True)
    is_male = np.asarray(layout[0, :, 2] == "male")
    return first, is_male, k


def encode_for_mlm(tokenizer, frame, max_length: int = 128):
    """Token ids plus attribute/occupation token masks located from character offsets."""
    import torch

    from debiaslab.core.io import DataError

    enc = tokenizer(
        list(frame["sentence"]),
        return_tensors="pt",
        padding=True,
        padding_side="right",
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
    )
    start, end = enc["offset_mapping"][..., 0], enc["offset_mapping"][..., 1]
    real = end > start  # special and padding tokens have empty offsets

    def span(lo, hi):
        lo = torch.tensor(frame[lo].to_numpy()).unsqueeze(1)
        hi = torch.tensor(frame[hi].to_numpy()).unsqueeze(1)
        return real & (start < hi) & (end > lo)

    attr, prof = span("attr_start", "attr_end"), span("prof_start", "prof_end")
    bad = (~attr.any(1)) | (~prof.any(1)) | (attr & prof).any(1)
    if bad.any():
        i = int(torch.nonzero(bad)[0])
        raise DataError(
            f"sentence {frame['sentence'].iloc[i]!r}: cannot locate the attribute and occupation tokens "
            "separately (tokenizer offsets)"
        )
    return {
        "input_ids": enc["input_ids"],
        "attention_mask": enc["attention_mask"],
        "attr": attr,
        "prof": prof,
        "real": real,
    }


def mlm_scores(model, encoded, batch_size: int = 256, grad: bool = False):
    """s per sentence: Σ log p(attr tokens | attr masked) − Σ log p(attr tokens | attr and occupation masked)."""
    import torch

    from debiaslab.core.batching import in_input_order, trimmed_batches
    from debiaslab.core.progress import Progress
    from debiaslab.models import head_on

    device = next(model.parameters()).device
    mask_id = encoded["mask_token_id"]
    out, order = [], []
    progress = Progress("MLM scores", len(encoded["input_ids"]), "sentences", first=False, final=False)
    with torch.set_grad_enabled(grad):
        for rows, (b_ids, b_attn, b_attr, b_prof) in trimmed_batches(
            encoded, ("input_ids", "attention_mask", "attr", "prof"), batch_size
        ):
            am = b_ids.masked_fill(b_attr, mask_id)
            tam = b_ids.masked_fill(b_attr | b_prof, mask_id)
            both = torch.cat([am, tam]).to(device)
            sel = torch.cat([b_attr, b_attr]).to(device)
            with head_on(model, sel):  # the vocabulary projection at the attribute tokens only
                logits = model(input_ids=both, attention_mask=torch.cat([b_attn, b_attn]).to(device)).logits[0]
            logp = torch.log_softmax(logits.float(), dim=-1)
            targets = torch.cat([b_ids, b_ids]).to(device)[sel]
            token_logp = logp.gather(1, targets.unsqueeze(1)).squeeze(1)
            row = torch.arange(len(both), device=device).unsqueeze(1).expand_as(sel)[sel]
            per_row = torch.zeros(len(both), device=device, dtype=token_logp.dtype).index_add(0, row, token_logp)
            n = len(b_ids)
            out.append(per_row[:n] - per_row[n:])
            order += rows
            progress.update(len(rows))
    progress.close()
    return in_input_order(out, order)


def encode_for_causal(tokenizer, frame, max_length: int = 128):
    enc = tokenizer(
        list(frame["sentence"]),
        return_tensors="pt",
        padding=True,
        padding_side="right",
        truncation=True,
        max_length=max_length,
    )
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


def causal_scores(model, encoded, batch_size: int = 256, grad: bool = False):
    """s per sentence: its mean next-token NLL (the source's `outputs.loss` with labels = input_ids).

    Whole short sentences, right-padded, with gradient when training: not evals.corpus_perplexity's
    strided, no-grad corpus NLL.
    """
    import torch
    import torch.nn.functional as F

    from debiaslab.core.batching import in_input_order, trimmed_batches
    from debiaslab.core.progress import Progress

    device = next(model.parameters()).device
    out, order = [], []
    # only a pass longer than the progress interval logs (a training batch's pass is short; a split's may not be)
    progress = Progress("sentence NLL", len(encoded["input_ids"]), "sentences", first=False, final=False)
    with torch.set_grad_enabled(grad):
        for rows, (ids, attn) in trimmed_batches(encoded, ("input_ids", "attention_mask"), batch_size):
            ids, attn = ids.to(device), attn.to(device)
            logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]
            valid = attn[:, 1:].bool()
            nll = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none")
            nll = nll.view(valid.shape) * valid
            out.append(nll.sum(dim=1) / valid.sum(dim=1).clamp(min=1))
            order += rows
            progress.update(len(rows))
    progress.close()
    return in_input_order(out, order)


class SentenceScorer:
    """Scores a split's sentences with one model (MLM or causal): P_male per occupation.

    Tokenization is done once per split; `probabilities(grad=True)` keeps the graph for training.
    """

    def __init__(self, model, tokenizer, kind: str, frame, max_length: int = 128, batch_size: int = 256):
        self.model, self.kind, self.batch_size = model, kind, batch_size
        self.occupations, self.is_male, self.per_occupation = score_matrix(frame)
        self.frame = frame
        if kind == "mlm":
            self.encoded = encode_for_mlm(tokenizer, frame, max_length)
            self.encoded["mask_token_id"] = tokenizer.mask_token_id
            self.sign = 1.0
        elif kind == "causal":
            if tokenizer.padding_side != "right":
                raise ValueError("causal scoring needs a right-padding tokenizer")
            self.encoded = encode_for_causal(tokenizer, frame, max_length)
            self.sign = -1.0
        else:
            raise ValueError(f"kind must be 'mlm' or 'causal', got {kind!r}")

    def rows_of(self, positions: Sequence[int]):
        """Sentence row indices of the occupations at `positions` (occupation-major layout)."""
        k = self.per_occupation
        return [p * k + j for p in positions for j in range(k)]

    def sentence_scores(self, positions: Sequence[int] | None = None, grad: bool = False):
        import torch

        enc = self.encoded
        if positions is not None:
            idx = torch.tensor(self.rows_of(positions))
            enc = {key: (v[idx] if torch.is_tensor(v) else v) for key, v in enc.items()}
        fn = mlm_scores if self.kind == "mlm" else causal_scores
        return fn(self.model, enc, self.batch_size, grad=grad)

    def probabilities(self, positions: Sequence[int] | None = None, grad: bool = False):
        """[occupations, 2] (P_male, P_female) as a torch tensor."""
        import torch

        scores = self.sentence_scores(positions, grad=grad)
        n = len(positions) if positions is not None else len(self.occupations)
        is_male = torch.tensor(self.is_male, device=scores.device)
        return gender_probabilities_torch(scores.view(n, self.per_occupation), is_male, self.sign), scores


def detection_records(scorer: SentenceScorer):
    """Per occupation: P_male, P_female and KL to both desired distributions; plus per-sentence scores."""
    import numpy as np

    probs, scores = scorer.probabilities()
    p_male = probs[:, 0].detach().cpu().double().numpy()
    records = scorer.occupations[["split", "profession", "prof_gender", "female_dist", "male_dist"]].copy()
    records["p_male"] = p_male
    records["p_female"] = 1.0 - p_male
    for desired in DESIRED:
        records[f"kl_{desired}"] = kl_divergence(desired_male(desired, records["male_dist"]), p_male)
    sentences = scorer.frame[["split", "template_id", "profession", "gender", "phrase", "sentence"]].copy()
    sentences["score"] = np.asarray(scores.detach().cpu().double().numpy())
    return records, sentences
