"""evals.perplexity: token-weighted perplexity, seeded 15 % MLM loss, pseudo-perplexity, corpus loading."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from debiaslab.evals import perplexity as ppl

TEXTS = ["the plumber spoke with the team.", "my sister is an electrical engineer.", "every nurse needs good tools.",
         "he, the new cashier, had a good day at work.", "the chef stayed late to help the new waiter."]


@pytest.fixture(scope="module")
def tiny():
    from transformers import BertConfig, BertForMaskedLM, Qwen3Config, Qwen3ForCausalLM

    from debiaslab.testbed.tokenizer import train_causal, train_mlm

    torch.manual_seed(0)
    wp, bpe = train_mlm(TEXTS * 3, 300), train_causal(TEXTS * 3, 400)
    bpe.padding_side = "right"
    mlm = BertForMaskedLM(BertConfig(vocab_size=len(wp), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=64, pad_token_id=wp.pad_token_id)).eval()
    lm = Qwen3ForCausalLM(Qwen3Config(vocab_size=len(bpe), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                      pad_token_id=bpe.pad_token_id)).eval()
    return {"wp": wp, "bpe": bpe, "mlm": mlm, "lm": lm}


def test_causal_perplexity_is_token_weighted(tiny):
    tok, lm = tiny["bpe"], tiny["lm"]
    total, count = 0.0, 0
    for text in TEXTS:
        ids = tok(text, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logp = torch.log_softmax(lm(input_ids=ids).logits[0, :-1], -1)
        total -= logp.gather(1, ids[0, 1:, None]).sum().item()
        count += ids.shape[1] - 1
    out = ppl.causal_perplexity(lm, tok, TEXTS, batch_size=2)
    assert out["tokens"] == count
    assert out["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)


def test_mlm_loss_masks_fifteen_percent_seeded_and_batch_independent(tiny):
    a = ppl.masked_lm_loss(tiny["mlm"], tiny["wp"], TEXTS, seed=42, batch_size=2)
    b = ppl.masked_lm_loss(tiny["mlm"], tiny["wp"], TEXTS, seed=42, batch_size=5)
    c = ppl.masked_lm_loss(tiny["mlm"], tiny["wp"], TEXTS, seed=7, batch_size=2)
    assert a == b and a["loss"] != c["loss"]
    n = [len(tiny["wp"](t, add_special_tokens=False)["input_ids"]) for t in TEXTS]
    assert a["masked_tokens"] == sum(max(1, math.floor(0.15 * k)) for k in n)


def test_pseudo_perplexity_masks_every_token_once(tiny):
    tok, mlm = tiny["wp"], tiny["mlm"]
    total, count = 0.0, 0
    for text in TEXTS:
        ids = tok(text, return_tensors="pt")["input_ids"][0]
        for i in range(1, len(ids) - 1):
            masked = ids.clone()
            masked[i] = tok.mask_token_id
            with torch.no_grad():
                total -= torch.log_softmax(mlm(input_ids=masked[None]).logits[0, i], -1)[ids[i]].item()
            count += 1
    out = ppl.pseudo_perplexity(mlm, tok, TEXTS, batch_size=7)
    assert out["tokens"] == count and out["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-5)


def test_load_corpus_filters_rows_and_lines(tmp_path):
    frame = pd.DataFrame({"text": ["= Heading =", "short line", "a line that is long enough to keep here", "other",
                                   "another line long enough to keep here"], "section": ["a", "a", "a", "b", "a"]})
    frame.to_parquet(tmp_path / "c.parquet")
    spec = {"name": "c", "path": str(tmp_path / "c.parquet"), "where": {"section": "a"}, "min_words": 3,
            "exclude_prefixes": ["="]}
    assert ppl.load_corpus(spec) == ["a line that is long enough to keep here", "another line long enough to keep here"]
    assert ppl.load_corpus(spec | {"limit": 1}) == ["a line that is long enough to keep here"]
    (tmp_path / "c.txt").write_text("one\n\ntwo three\n")
    assert ppl.load_corpus({"name": "t", "path": str(tmp_path / "c.txt")}) == ["one", "two three"]
    with pytest.raises(Exception, match="unknown key"):
        ppl.load_corpus({"name": "t", "path": str(tmp_path / "c.txt"), "colum": "x"})


# The source's filtered corpora, where this checkout sits beside a `shared/data` folder (not shipped).
REPO = Path(__file__).resolve().parents[1]
SHARED = next((p / "desired_distribution" for p in (REPO.parent / "shared" / "data", REPO.parents[1] / "shared" / "data")
               if (p / "desired_distribution").is_dir()), REPO / "missing")


@pytest.mark.skipif(not (SHARED / "WikiText-103-test-en.tsv").is_file(), reason="shared WikiText lines not present")
def test_the_sources_wikitext_lines_load_and_score(tiny):
    texts = ppl.load_corpus({"name": "wikitext", "path": str(SHARED / "WikiText-103-test-en.tsv"), "limit": 8})
    assert len(texts) == 8 and all(len(t.split()) >= 15 for t in texts)
    out = ppl.masked_lm_loss(tiny["mlm"], tiny["wp"], texts, batch_size=4)
    assert out["masked_tokens"] > 8 and math.isfinite(out["loss"])
