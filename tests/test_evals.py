"""Evaluations (evals/): prompts, metrics and likelihoods against hand computations; adapters; lm-eval parsing.

Models here are hand-specified torch modules whose log-probabilities can be written down (a bigram
table for a causal LM, a right-neighbour table for a masked LM), or tiny randomly initialised
transformers checkpoints built in the test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from debiaslab.core.statistics import Bootstrap
from debiaslab.evals import corpus_perplexity as cp
from debiaslab.evals import fluency, glue, mmlu
from debiaslab.evals.bias_suite import crows_pairs
from debiaslab.models import mask_choice

# --- MMLU prompts, tokenisation and the decision rule --------------------------------------------------

ROW = {
    "question": " What is 2 + 2? ",
    "subject": "elementary_mathematics",
    "choices": ["3", "4", "5", "22"],
    "answer": 1,
}
SHOT = {
    "question": "What is 1 + 1?",
    "subject": "elementary_mathematics",
    "choices": ["2", "1", "0", "11"],
    "answer": 0,
}


def test_mmlu_templates_render_as_lm_eval_and_the_source_study():
    block = "What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:"
    assert mmlu.context(ROW, [], "lm_eval") == (
        "The following are multiple choice questions (with answers) about elementary mathematics.\n\n" + block
    )
    assert mmlu.context(ROW, [], "cs329r") == block
    shot = "What is 1 + 1?\nA. 2\nB. 1\nC. 0\nD. 11\nAnswer: A\n\n"
    assert mmlu.context(ROW, [SHOT], "lm_eval").endswith(shot + block)
    assert mmlu.contexts([ROW], [SHOT, SHOT | {"subject": "other"}], "cs329r", 1) == [shot + block]
    with pytest.raises(ValueError):
        mmlu.context(ROW, [], "harness")


def test_mmlu_k_shot_needs_enough_dev_questions():
    from debiaslab.core.io import DataError

    with pytest.raises(DataError, match="elementary_mathematics"):
        mmlu.contexts([ROW], [SHOT], "lm_eval", 2)


def test_argmax_ties_go_to_the_first_letter():
    assert mmlu.predict([-1.0, -0.5, -0.5, -2.0]) == 1
    assert mmlu.predict([-3.0, -3.0, -3.0, -3.0]) == 0


def test_accuracy_micro_and_macro_by_hand():
    records = pd.DataFrame({"subject": ["a", "a", "a", "b"], "correct": [True, True, False, False]})
    acc = mmlu.accuracy(records)
    assert acc["micro"] == pytest.approx(2 / 4)
    assert acc["macro"] == pytest.approx((2 / 3 + 0) / 2)
    assert acc["subjects"] == {"a": (pytest.approx(2 / 3), 3), "b": (0.0, 1)}


def test_mmlu_replicates_resample_questions_within_each_subject():
    records = pd.DataFrame({"subject": ["a", "a", "a", "b", "b"], "correct": [True, True, False, False, True]})
    values = {(v["subset"], v["metric"]): v for v in mmlu.score_values(records, "test", Bootstrap(3))}
    a, b = (np.asarray(values[(s, "mmlu_acc")]["replicates"]) for s in ("a", "b"))
    assert set(np.round(a * 3).tolist()) <= {0, 1, 2, 3} and set(np.round(b * 2).tolist()) <= {0, 1, 2}
    # micro: the questions' mean = subjects weighted by size; macro: the subjects' mean — replicate by replicate
    assert values[("all", "mmlu_acc")]["replicates"] == pytest.approx((3 * a + 2 * b) / 5)
    assert values[("all", "mmlu_macro_acc")]["replicates"] == pytest.approx((a + b) / 2)
    assert values[("all", "mmlu_acc")]["value"] == pytest.approx(3 / 5)


class CharTokenizer:
    """One token per character (ids = code points), like a byte-level tokenizer without merges."""

    pad_token_id = 0
    eos_token_id = 0
    bos_token_id = None
    mask_token_id = 1
    all_special_ids = [0, 1]

    def __call__(self, texts, add_special_tokens=True, truncation=False, max_length=None, **returns):
        single = isinstance(texts, str)
        ids = [[ord(c) for c in t] for t in ([texts] if single else texts)]
        return {"input_ids": ids[0] if single else ids}


def test_encode_pair_moves_trailing_space_and_splits_as_lm_eval():
    tok = CharTokenizer()
    ctx, cont = mmlu.encode_pair(tok, "Answer: ", "A")
    assert ctx == [ord(c) for c in "Answer:"] and cont == [ord(" "), ord("A")]
    requests = mmlu.letter_requests(tok, ["Answer:"])
    # " A" is two tokens sharing the leading space: one pass over "Answer: " still scores all four
    assert requests[0][1] == [[32, 65], [32, 66], [32, 67], [32, 68]] and requests[0][2]


class Bigram(torch.nn.Module):
    """A causal LM whose next-token logits depend only on the current token: logits[t] = table[x_t]."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(torch.as_tensor(table, dtype=torch.float32))

    def forward(self, input_ids, attention_mask=None, position_ids=None, logits_to_keep=0, **unused):
        logits = self.table[input_ids]
        if logits_to_keep:
            logits = logits[:, -logits_to_keep:]
        return type("Out", (), {"logits": logits})()


def bigram_logprob(table, prev, nxt):
    row = table[prev]
    return row[nxt] - math.log(sum(math.exp(v) for v in row))


def test_one_forward_equals_four_requests_on_a_hand_model():
    # vocabulary 0..127 (character codes); random but fixed bigram logits
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(128, 128, generator=gen).tolist()
    model, tok = Bigram(table), CharTokenizer()
    contexts = ["Q1\nAnswer:", "longer question two\nAnswer:", "x:"]
    requests = mmlu.letter_requests(tok, contexts)
    one = mmlu.one_forward_loglikelihoods(model, requests, batch_size=2, pad_id=0)
    four = mmlu.four_request_loglikelihoods(model, requests, batch_size=3, pad_id=0)
    for q in range(len(contexts)):
        # by hand: log p(" " | ":") + log p(letter | " ")
        expected = [bigram_logprob(table, ord(":"), 32) + bigram_logprob(table, 32, ord(letter)) for letter in "ABCD"]
        assert one[q] == pytest.approx(expected, abs=1e-4)
        assert four[q] == pytest.approx(expected, abs=1e-4)


def test_common_prefix_length_by_hand():
    assert mmlu.common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2, 3, 5]]) == 2
    assert mmlu.common_prefix_length([[1, 2, 3], [1, 2, 3]]) == 3
    assert mmlu.common_prefix_length([[1, 2, 3], [1, 2, 3]], leave=1) == 2  # each row keeps a token after it
    assert mmlu.common_prefix_length([[1, 2], [1, 2, 3]], leave=2) == 0
    assert mmlu.common_prefix_length([[9], [1]]) == 0


def test_rows_sharing_a_prefix_are_batched_together_then_by_length():
    rows = [[5, 1, 1, 9], [5, 1, 1, 2, 2, 2], [5, 1, 1, 3], [7, 7], [7, 7, 1]]
    # token order b, c, a, d, e; each row's longest prefix shared with a neighbour: 3, 3, 3, 2, 2 -> depth 3;
    # grouped by the first 3 tokens: (5, 1, 1): c and a (4 tokens, c first in token order), then b (6); (7, 7): d;
    # (7, 7, 1): e
    assert list(mmlu.by_shared_prefix(rows, batch_size=2)) == [[2, 0], [1, 3], [4]]
    assert list(mmlu.by_shared_prefix(rows, batch_size=3)) == [[2, 0, 1], [3, 4]]
    assert list(mmlu.by_shared_prefix([], batch_size=2)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(mmlu.by_shared_prefix(rows, batch_size=0))


def tiny_llama():
    """A randomly initialised two-layer Llama over the character ids (attention and rotary positions:
    what a shared prefix must get right, which the bigram cannot tell)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


def test_a_shared_prompt_prefix_runs_once_and_every_question_scores_as_alone(one_torch_thread):
    """Questions under one header (and a shared example block) are batched together; the tokens a batch
    shares run once (batch 1) and the rest follows, left-padded. Each question's four log-likelihoods
    equal its own forward without any sharing (and lm-eval's four requests), with fewer tokens computed."""
    model, tok = tiny_llama(), CharTokenizer()
    header, shots = "About math.\n\n", "1+1?\nA. 2\nB. 3\nAnswer: A\n\n"
    questions = ["2+2?", "10+1?", "3*3=?", "a longer one?", "9-9?"]
    contexts = [header + shots + q + "\nAnswer:" for q in questions] + [header + "7?\nAnswer:", "Other.\n\nq?\nAnswer:"]
    requests = mmlu.letter_requests(tok, contexts)  # " A" is " " + "A": two tokens, the space shared
    widths = []
    model.get_input_embeddings().register_forward_pre_hook(lambda m, a: widths.append(tuple(a[0].shape)))
    shared = mmlu.one_forward_loglikelihoods(model, requests, batch_size=2, pad_id=0)
    widths, calls = [], list(widths)
    through = sum(rows * width for rows, width in calls)
    four = mmlu.four_request_loglikelihoods(model, requests, batch_size=4, pad_id=0)
    for q in range(len(contexts)):
        alone = mmlu.one_forward_loglikelihoods(model, [requests[q]], batch_size=1, pad_id=0, share_prefix=False)[0]
        assert shared[q] == pytest.approx(alone, abs=1e-5), contexts[q]
        assert four[q] == pytest.approx(alone, abs=1e-5)
    prefix_runs = [w for w in calls if w[0] == 1]
    assert prefix_runs and through < sum(len(r[0]) + 1 for r in requests) * 0.8, calls
    # the header + example block is computed once and reused by the next batch that begins with it
    assert sum(w[1] >= len(tok(header + shots)["input_ids"]) for w in prefix_runs) == 1, calls
    # a model whose forward keeps no KV cache (the bigram) runs every batch whole, with the same scores
    gen = torch.Generator().manual_seed(0)
    table = torch.randn(128, 128, generator=gen).tolist()
    bigram = mmlu.one_forward_loglikelihoods(Bigram(table), requests, batch_size=2, pad_id=0)
    for q in range(len(contexts)):
        expected = [bigram_logprob(table, ord(":"), 32) + bigram_logprob(table, 32, ord(c)) for c in "ABCD"]
        assert bigram[q] == pytest.approx(expected, abs=1e-4)


# --- GLUE metrics against hand computations ----------------------------------------------------------


def test_glue_metrics_by_hand():
    labels, preds = [1, 1, 0, 0], [1, 0, 0, 0]
    # TP 1, TN 2, FP 0, FN 1: MCC = (1·2 − 0·1) / sqrt((1+0)(1+1)(2+0)(2+1)) = 2 / sqrt(12)
    assert glue.task_metrics("cola", labels, preds) == {"matthews_corr": pytest.approx(2 / math.sqrt(12))}
    # precision 1, recall 1/2 → F1 2/3; accuracy 3/4
    assert glue.task_metrics("mrpc", labels, preds) == {"f1": pytest.approx(2 / 3), "accuracy": 0.75}
    assert glue.task_metrics("qqp", labels, preds)["f1"] == pytest.approx(2 / 3)
    assert glue.task_metrics("sst2", labels, preds) == {"accuracy": 0.75}
    # Pearson of x=[1,2,3,4], y=[1,2,3,5]: Σdxdy = 6.5, Σdx² = 5, Σdy² = 8.75; Spearman: same ranks → 1
    stsb = glue.task_metrics("stsb", [1, 2, 3, 5], [1, 2, 3, 4])
    assert stsb == {"pearson": pytest.approx(6.5 / math.sqrt(5 * 8.75)), "spearman": pytest.approx(1.0)}
    # GLUE score: mean over tasks of each task's mean metric
    assert glue.glue_score({"cola": {"matthews_corr": 0.5}, "mrpc": {"f1": 0.8, "accuracy": 0.6}}) == pytest.approx(0.6)


def test_glue_score_rows_name_task_metric_and_mismatched_split():
    def split(n, correct):  # n examples, the first `correct` predicted right
        return [1] * n, [1] * correct + [0] * (n - correct)

    predictions = {
        "mnli": {"validation_matched": split(10, 7), "validation_mismatched": split(12, 6)},
        "sst2": {"validation": split(8, 6)},
    }
    values = glue.score_values(predictions, Bootstrap(0))
    rows = {r["metric"]: (r["value"], r["n"]) for r in values}
    assert rows == {
        "glue_mnli_accuracy": (0.7, 10),
        "glue_mnli_mm_accuracy": (0.5, 12),
        "glue_sst2_accuracy": (0.75, 8),
        "glue_score": (pytest.approx((0.7 + 0.75) / 2), 30),
    }
    # replicates: each task's examples resampled; the GLUE score's replicate b is its formula on replicate b
    reps = {r["metric"]: np.asarray(r["replicates"]) for r in values}
    assert len(reps["glue_score"]) >= 1000
    assert reps["glue_score"] == pytest.approx((reps["glue_mnli_accuracy"] + reps["glue_sst2_accuracy"]) / 2)


# --- perplexity: strided windows, token weighting, PLL ------------------------------------------------


def test_windows_predict_every_token_once():
    assert cp.windows(10, 4, 2) == [(0, 4, 1), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
    assert cp.windows(10, 4, 4) == [(0, 4, 1), (4, 8, 5), (8, 10, 9)]  # non-overlapping: a window's first token is lost
    assert cp.windows(3, 8, 4) == [(0, 3, 1)]
    assert cp.windows(1, 8, 4) == []
    for n, L, s in ((17, 5, 2), (17, 5, 3), (9, 3, 1)):
        predicted = [p for b, e, first in cp.windows(n, L, s) for p in range(first, e)]
        assert predicted == list(range(1, n)) or s == L


def test_strided_nll_equals_the_bigram_hand_computation():
    gen = torch.Generator().manual_seed(1)
    table = torch.randn(128, 128, generator=gen).tolist()
    model, tok = Bigram(table), CharTokenizer()
    texts = ["abcdefghij", "xy", "hello world"]
    nll, count = cp.causal_nll(model, tok, texts, max_length=4, stride=2, batch_size=2)
    for text, got, n in zip(texts, nll, count):
        # a bigram model needs one token of context: striding with overlap loses nothing
        expected = -sum(bigram_logprob(table, ord(a), ord(b)) for a, b in zip(text, text[1:]))
        assert got == pytest.approx(expected, abs=1e-3) and n == len(text) - 1
    # token-weighted: exp(Σ NLL / Σ tokens), not the mean of per-text perplexities
    result = cp.perplexity(nll, count)
    assert result["perplexity"] == pytest.approx(math.exp(sum(nll) / sum(count)))
    assert result["tokens"] == 9 + 1 + 10


class RightNeighbour(torch.nn.Module):
    """A masked LM whose logits at position t are table[x_{t+1}] (zeros at the last real position)."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(torch.as_tensor(table, dtype=torch.float32))
        self.head = torch.nn.Linear(len(table), len(table), bias=False)
        with torch.no_grad():
            self.head.weight.copy_(self.table.T)

    def get_output_embeddings(self):
        return self.head

    def forward(self, input_ids, attention_mask=None):
        nxt = torch.nn.functional.one_hot(input_ids[:, 1:], len(self.table)).float()
        if attention_mask is not None:  # padding is not a neighbour
            nxt = nxt * attention_mask[:, 1:, None]
        hidden = torch.cat([nxt, torch.zeros_like(nxt[:, :1])], dim=1)
        return type("Out", (), {"logits": self.head(hidden)})()


def test_pseudo_log_likelihood_by_hand():
    gen = torch.Generator().manual_seed(2)
    table = torch.randn(128, 128, generator=gen).tolist()
    model, tok = RightNeighbour(table), CharTokenizer()
    texts = ["abc", "hello"]
    pll, count = cp.pseudo_log_likelihoods(model, tok, texts, max_length=32, batch_size=3)
    for text, got, n in zip(texts, pll, count):
        # masking x_t leaves x_{t+1} visible: log p(x_t) = log softmax(table[x_{t+1}])[x_t]; the last sees zeros
        expected = sum(bigram_logprob(table, ord(b), ord(a)) for a, b in zip(text, text[1:]))
        expected += -math.log(128)
        assert got == pytest.approx(expected, abs=1e-3) and n == len(text)


# --- CrowS-Pairs ----------------------------------------------------------------------------------------


def test_shared_positions_align_the_unchanged_tokens():
    assert crows_pairs.shared_positions([101, 5, 6, 7, 102], [101, 5, 9, 9, 7, 102]) == ([0, 1, 3, 4], [0, 1, 4, 5])


def test_crows_pll_sums_shared_tokens_only():
    gen = torch.Generator().manual_seed(3)
    table = torch.randn(128, 128, generator=gen).tolist()
    model, tok = RightNeighbour(table), CharTokenizer()
    more, less = crows_pairs.mlm_pair_scores(model, tok, ["abxd"], ["abyyd"], crows_pairs.CrowsSettings())
    lp = lambda nxt, tgt: bigram_logprob(table, ord(nxt), ord(tgt))  # noqa: E731
    # shared: a, b, d; each masked alone; the last token sees zeros (uniform)
    assert more[0] == pytest.approx(lp("b", "a") + lp("x", "b") - math.log(128), abs=1e-3)
    assert less[0] == pytest.approx(lp("b", "a") + lp("y", "b") - math.log(128), abs=1e-3)


def test_crows_summary_by_hand():
    frame = pd.DataFrame(
        {
            "sent_more": list("abcd"),
            "sent_less": list("efgh"),
            "stereo_antistereo": ["stereo", "stereo", "antistereo", "stereo"],
            "bias_type": ["gender", "gender", "age", "age"],
        }
    )
    records = crows_pairs.pair_records(frame, [-1.0, -5.0, -2.0, -3.0], [-2.0, -4.0, -3.0, -3.0])
    values = {(v["subset"], v["metric"]): (v["value"], v["n"]) for v in crows_pairs.summary(records, Bootstrap(0))}
    assert values[("all", "crows_stereotype_score")] == (0.5, 4)  # pairs 1 and 3 prefer sent_more; 4 is a tie
    assert values[("all", "crows_tie_rate")] == (0.25, 4)
    assert values[("all", "crows_stereo_score")] == (pytest.approx(1 / 3), 3)
    assert values[("all", "crows_antistereo_score")] == (1.0, 1)
    assert values[("gender", "crows_stereotype_score")] == (0.5, 2) and values[("age", "crows_stereotype_score")] == (
        0.5,
        2,
    )


def test_packaged_crows_pairs_data_is_complete_and_attributed():
    frame = crows_pairs.load_pairs(crows_pairs.CrowsSettings())
    assert len(frame) == 1508 and frame["bias_type"].nunique() == 9
    readme = (crows_pairs.packaged_data().parent / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "Nangia" in readme and "291426a" in readme


# --- fluency ---------------------------------------------------------------------------------------------


def test_fluency_scores_the_completed_sentence_per_split():
    assert fluency.completed_sentence("The nurse was", ' kind and bold."\nmore') == "The nurse was kind and bold."
    frame = pd.DataFrame({"split": ["train", "heldout", "train"], "prefix": ["a"] * 3, "response": ["b"] * 3})
    values = fluency.score_values(frame, [2.0, 3.0, 4.0], [1, 3, 2], Bootstrap(0))
    assert [{k: v[k] for k in ("split", "subset", "metric", "value", "n")} for v in values] == [
        {
            "split": "train",
            "subset": "all",
            "metric": "fluency_perplexity",
            "value": pytest.approx(math.exp(2)),
            "n": 3,
        },
        {
            "split": "heldout",
            "subset": "all",
            "metric": "fluency_perplexity",
            "value": pytest.approx(math.exp(1)),
            "n": 3,
        },
    ]
    # replicates: exp(Σ NLL / Σ tokens) of resampled texts; the one heldout text gives its own value every time
    assert np.asarray(values[1]["replicates"]) == pytest.approx(math.exp(1))
    assert min(values[0]["replicates"]) >= math.exp(2) - 1e-9 and max(values[0]["replicates"]) <= math.exp(2) + 1e-9


# --- adapters with resized embeddings -------------------------------------------------------------------


def test_adapter_saved_with_more_embedding_rows_loads_onto_the_base(tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from debiaslab.evals.common import adapter_vocab_size, attach_adapter

    config = Qwen3Config(
        vocab_size=96,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).save_pretrained(tmp_path / "base")
    trained = Qwen3ForCausalLM.from_pretrained(tmp_path / "base")
    trained.resize_token_embeddings(104)  # e.g. tokens added before fine-tuning
    lora = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"], modules_to_save=["lm_head", "embed_tokens"])
    get_peft_model(trained, lora).save_pretrained(tmp_path / "adapter")
    plain = LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj"])
    get_peft_model(Qwen3ForCausalLM.from_pretrained(tmp_path / "base"), plain).save_pretrained(tmp_path / "plain")

    assert adapter_vocab_size(tmp_path / "adapter") == 104 and adapter_vocab_size(tmp_path / "plain") is None
    model = attach_adapter(Qwen3ForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter")
    assert model.get_input_embeddings().weight.shape[0] == 104
    model = attach_adapter(Qwen3ForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "plain")
    assert model.get_input_embeddings().weight.shape[0] == 96  # no resize where the adapter saves no embedding


# --- lm-eval results → score store -----------------------------------------------------------------------


def test_lm_eval_metric_rows_keep_metrics_and_drop_stderr():
    from debiaslab.evals.lm_eval_bridge import metric_rows

    results = {
        "results": {
            "hellaswag": {
                "alias": "hellaswag",
                "acc,none": 0.5,
                "acc_stderr,none": 0.01,
                "acc_norm,none": 0.6,
                "sample_len": 100,
            },
            "lambada_openai": {"perplexity,none": 3.2, "acc,none": 0.7},
        },
        "n-samples": {"hellaswag": {"original": 100, "effective": 10}, "lambada_openai": {"effective": 20}},
    }
    results["samples"] = {"hellaswag": [{"filter": "none", "acc": float(i < 5), "acc_norm": 1.0} for i in range(10)]}
    values = metric_rows(results, Bootstrap(0))
    rows = {r["metric"]: (r["value"], r["n"]) for r in values}
    assert rows == {
        "lmeval_hellaswag_acc": (0.5, 10),
        "lmeval_hellaswag_acc_norm": (0.6, 10),
        "lmeval_lambada_openai_acc": (0.7, 20),
        "lmeval_lambada_openai_perplexity": (3.2, 20),
    }
    reps = {r["metric"]: r.get("replicates") for r in values}
    # acc is the mean of its logged per-document values: replicates over documents; acc_norm's logged values
    # (all 1) do not average to its 0.6, and lambada logged none: no replicates rather than wrong ones
    assert len(reps["lmeval_hellaswag_acc"]) >= 1000 and 0.0 <= min(reps["lmeval_hellaswag_acc"]) < 0.5
    assert reps["lmeval_hellaswag_acc_norm"] is None and reps["lmeval_lambada_openai_acc"] is None


# --- MLM loss (15 % masked at once, seeded) and corpus filters -------------------------------------------


def test_mask_choice_takes_floor_fifteen_percent_of_the_candidates():
    gen = torch.Generator().manual_seed(0)
    assert mask_choice([], 0.15, gen) == []
    for n in (1, 6, 7, 13, 20, 41):
        chosen = mask_choice(list(range(10, 10 + n)), 0.15, gen)
        assert len(chosen) == max(1, math.floor(0.15 * n)) and len(set(chosen)) == len(chosen)
        assert chosen == sorted(chosen) and set(chosen) <= set(range(10, 10 + n))


def test_mlm_loss_by_hand_with_every_masked_token_at_once():
    gen = torch.Generator().manual_seed(3)
    table = torch.randn(128, 128, generator=gen).tolist()
    model, tok = RightNeighbour(table), CharTokenizer()
    texts = ["abcdefghijklmnopqrst", "hello world", "xy", "the cat sat on the mat"]
    nll, count = cp.masked_lm_nll(model, tok, texts, probability=0.15, seed=7, max_length=64, batch_size=3)
    choose = torch.Generator().manual_seed(7)  # the same draws, in corpus order
    for text, got, n in zip(texts, nll, count):
        ids = [ord(c) for c in text]
        masked = mask_choice(list(range(len(ids))), 0.15, choose)
        seen = [tok.mask_token_id if i in masked else t for i, t in enumerate(ids)]
        # x_t masked: the model sees its right neighbour as it is after masking (maybe a mask itself)
        expected = sum(
            -bigram_logprob(table, seen[t + 1], ids[t]) if t + 1 < len(ids) else math.log(128) for t in masked
        )
        assert n == len(masked) == max(1, math.floor(0.15 * len(ids)))
        assert got == pytest.approx(expected, abs=1e-3)
    # the masks do not depend on batching; another seed draws others
    assert cp.masked_lm_nll(model, tok, texts, probability=0.15, seed=7, max_length=64, batch_size=1) == (nll, count)
    assert cp.masked_lm_nll(model, tok, texts, probability=0.15, seed=8, max_length=64, batch_size=3)[0] != nll


def test_corpus_filters_rows_short_texts_and_headings(tmp_path):
    frame = pd.DataFrame(
        {
            "text": [
                " = Heading = ",
                "short line",
                " a line that is long enough to keep ",
                "other text here",
                "another line long enough to keep",
                " ",
            ],
            "section": ["a", "a", "a", "b", "a", "a"],
        }
    )
    frame.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    data = cp.CorpusData(path=str(tmp_path / "c.tsv"), where={"section": "a"}, min_words=3, exclude_prefixes=("=",))
    assert cp.load_texts(data, None) == [" a line that is long enough to keep ", "another line long enough to keep"]
    assert cp.load_texts(data, 1) == [" a line that is long enough to keep "]
    assert len(cp.load_texts(cp.CorpusData(path=str(tmp_path / "c.tsv")), None)) == 5
