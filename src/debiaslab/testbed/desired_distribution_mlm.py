"""The desired_distribution experiment's own tiny BERT: pretrained on its corpus section with the
gendered attribute masked (why: testbed/desired_distribution.py's docstring).

Apart from the corpus section so that the corpus, which every model reads, does not carry the
pretraining code's fingerprint: editing the pretraining loop retrains models, not the corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from debiaslab.data import desired_distribution as dd
from debiaslab.testbed.desired_distribution import ANCHOR_SECTION, SECTION
from debiaslab.testbed.pretrain import PretrainSettings


def mlm_documents(corpus_path) -> list[str]:
    """What the dedicated MLM pretrains on: this section's documents plus the anchor sentences, shuffled."""
    from debiaslab.core.io import read_parquet

    frame = read_parquet(corpus_path, required=["section", "text", "use"])
    keep = ((frame["section"] == SECTION) & (frame["use"] == "pretrain")) | (frame["section"] == ANCHOR_SECTION)
    texts = frame.loc[keep, "text"].tolist()
    random.Random(0).shuffle(texts)
    return texts


class AttributeMasking:
    """The standard MLM collator, plus: in a share `probability` of the texts that start with a
    gendered phrase, the phrase's attribute tokens masked (labels = the original tokens)."""

    def __init__(self, tokenizer, mlm_probability: float, probability: float, seed: int):
        import torch
        from transformers import DataCollatorForLanguageModeling

        self.base = DataCollatorForLanguageModeling(
            tokenizer, mlm_probability=mlm_probability, seed=seed, return_tensors="pt"
        )
        self.mask_id, self.probability = tokenizer.mask_token_id, probability
        self.generator = torch.Generator().manual_seed(seed + 1)
        ids = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
        # (determiner ids, attribute ids), longest first ("this man" before "this")
        self.phrases = sorted(
            {
                (tuple(ids(w.determiner)) if w.determiner else (), tuple(ids(w.attribute)))
                for w in dd.read_gendered_words()
            },
            key=lambda p: -len(p[0] + p[1]),
        )
        self.start = tokenizer("x")["input_ids"].index(ids("x")[0])  # the text's first token (1: after [CLS])

    def attribute_span(self, ids: list[int]) -> tuple[int, int] | None:
        """[start, end) of the attribute tokens where `ids` open with a gendered phrase, else None."""
        for det, attr in self.phrases:
            a = self.start + len(det)
            if tuple(ids[self.start : a]) == det and tuple(ids[a : a + len(attr)]) == attr:
                return a, a + len(attr)
        return None

    def __call__(self, features):
        import torch

        out = self.base(features)
        pick = torch.rand(len(features), generator=self.generator) < self.probability
        for row, feature in enumerate(features):
            span = self.attribute_span(feature["input_ids"]) if pick[row] else None
            if span:
                a, b = span
                out["labels"][row, a:b] = torch.tensor(feature["input_ids"][a:b])
                out["input_ids"][row, a:b] = self.mask_id
        return out


@dataclass(frozen=True)
class MLMSettings:
    # the schema's default (testbed.desired_distribution_mlm.pretrain): a wider, shallower BERT, few masks
    pretrain: PretrainSettings = field(
        default_factory=lambda: PretrainSettings(
            hidden_size=128,
            intermediate_size=384,
            num_layers=1,
            steps=400,
            learning_rate=0.003,
            mlm_probability=0.05,
            initializer_range=0.05,
        )
    )
    attribute_mask_probability: float = 1.0


def write_mlm(corpus_path, tokenizers_dir, settings: dict, out_dir) -> dict:
    """Stage entry: the dedicated tiny BERT (shared MLM tokenizer, shared pretraining loop), Hub format."""
    from pathlib import Path

    from debiaslab.core.config import build
    from debiaslab.testbed.pretrain import pretrain

    s = build(MLMSettings, settings, "testbed.desired_distribution_mlm")
    p = s.pretrain
    collator = lambda tok: AttributeMasking(tok, p.mlm_probability, s.attribute_mask_probability, p.seed)  # noqa: E731
    return pretrain("mlm", mlm_documents(corpus_path), Path(tokenizers_dir) / "mlm", out_dir, p, collator=collator)
