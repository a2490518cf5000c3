"""desired_distribution (docs/experiments/desired_distribution.md): data, formulas against hand-computed
values, adaptive weighting."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from debiaslab.data import desired_distribution as dd
from debiaslab.experiments.desired_distribution import data as dd_data
from debiaslab.methods.desired_kl import (
    KLTracker,
    RealWorldKLSettings,
    adaptive_lambda,
    adaptive_objective,
    category_batches,
    keep_training,
    record_epoch,
)
from debiaslab.metrics import distribution_kl as dk

# --- data ---------------------------------------------------------------------------------------


def test_packaged_tables_are_the_papers_split():
    splits = {s: dd.read_professions(s) for s in dd.SPLITS}
    assert [len(splits[s]) for s in dd.SPLITS] == [146, 34, 45]
    names = [p.name for s in dd.SPLITS for p in splits[s]]
    assert len(set(names)) == 225 and set(names) == {p.name for p in dd.read_professions("all")}
    words = dd.read_gendered_words()
    assert sum(w.gender == "male" for w in words) == sum(w.gender == "female" for w in words) == 11
    assert list(dd.templates_for("train")) == ["T1", "T2", "T3"] and list(dd.templates_for("test")) == [
        "T4",
        "T5",
        "T6",
    ]


def test_packaged_resources_ship_with_the_package():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["debiaslab"]
    assert "resources/**/*" in patterns
    files = {p.name for p in dd.resources_dir().iterdir()}
    assert {
        "README.md",
        "profession_dist.tsv",
        "professions_test.tsv",
        "templates_test.tsv",
        "male_gendered_words.txt",
        "female_gendered_words.txt",
    } <= files


@pytest.mark.parametrize(
    "phrase,article",
    [
        ("engineer", "an"),
        ("aircraft pilot", "an"),
        ("office support worker", "an"),
        ("host", "a"),
        ("hotel desk clerk", "a"),
        ("home health aide", "a"),
        ("hour worker", "an"),
        ("honest broker", "an"),
        ("university professor", "a"),
        ("european", "a"),
        ("one-person team", "a"),
        ("umpire", "an"),
        ("nurse", "a"),
    ],
)
def test_indefinite_article_follows_the_sound(phrase, article):
    assert dd.indefinite_article(phrase) == article


def test_every_occupation_gets_the_article_of_its_first_sound():
    # The 225 occupations: every vowel letter here is a vowel sound, every h is pronounced.
    for prof in dd.read_professions("all"):
        expected = "an" if prof.name[0] in "aeiou" else "a"
        assert dd.indefinite_article(prof.name) == expected, prof.name


def test_sentences_fill_templates_and_record_spans():
    word = next(w for w in dd.read_gendered_words() if w.phrase == "my sister")
    filled = dd.fill("[DET][AAA] is [ARTICLE] [TTT].", word, "electrical engineer")
    assert filled.sentence == "my sister is an electrical engineer."
    a, p = filled.attribute_span, filled.profession_span
    assert filled.sentence[a[0] : a[1]] == "sister" and filled.sentence[p[0] : p[1]] == "electrical engineer"
    he = next(w for w in dd.read_gendered_words() if w.phrase == "he")
    assert (
        dd.fill("[DET][AAA], the [TTT], had a good day at work.", he, "nurse").sentence
        == "he, the nurse, had a good day at work."
    )
    rows = dd.sentence_rows()
    assert len(rows) == (146 + 34 + 45) * 3 * 22
    for row in rows[::97]:
        assert row["sentence"][row["attr_start"] : row["attr_end"]] == row["attribute"]
        assert row["sentence"][row["prof_start"] : row["prof_end"]] == row["profession"]


def test_per_category_sample_keeps_whole_occupations_in_order(tmp_path):
    """`data.per_category`: at most n occupations per (split, prof_gender), each with all its 66 sentences in
    the occupation-major order scorers reshape by; the same sample for the same seed; a split left out keeps all."""
    full = pd.DataFrame(dd.sentence_rows())
    sample = dd_data.sample_per_category(full, {"train": 3, "test": 1, "valid": None}, seed=0)
    per = sample.groupby(["split", "prof_gender"])["profession"].nunique().to_dict()
    assert {k: v for k, v in per.items() if k[0] != "valid"} == {
        (s, c): n for s, n in (("train", 3), ("test", 1)) for c in ("balanced", "female_dominated", "male_dominated")
    }
    assert (
        sample[sample["split"] == "valid"]
        .reset_index(drop=True)
        .equals(full[full["split"] == "valid"].reset_index(drop=True))
    )
    assert (sample.groupby(["split", "profession"]).size() == 66).all()
    kept = full.merge(sample[["split", "profession"]].drop_duplicates(), on=["split", "profession"])
    assert kept.equals(sample)  # the full table's rows, in the full table's order
    assert (
        dd_data.sample_per_category(full, {"train": 3}, seed=0)[lambda f: f.split == "train"]
        .reset_index(drop=True)
        .equals(sample[sample.split == "train"].reset_index(drop=True))
    )
    assert not dd_data.sample_per_category(full, {"train": 3}, seed=1)["profession"].equals(
        dd_data.sample_per_category(full, {"train": 3}, seed=0)["profession"]
    )
    dd_data.write_sentences({"per_category": {"train": 2, "valid": 1, "test": 1}, "seed": 0}, tmp_path / "s.parquet")
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == (6 + 3 + 3) * 66


# --- formulas (hand-built example) --------------------------------------------------------------

# One occupation, 2 templates × 2 words per gender, with known p(attr | attr masked) (AM) and
# p(attr | attr and occupation masked) (TAM):           AM    TAM     s = ln(AM / TAM)
HAND = [
    ("Ta", "he", "male", 0.40, 0.20),
    ("Ta", "man", "male", 0.10, 0.10),
    ("Ta", "she", "female", 0.10, 0.20),
    ("Ta", "woman", "female", 0.05, 0.10),
    ("Tb", "he", "male", 0.30, 0.30),
    ("Tb", "man", "male", 0.20, 0.10),
    ("Tb", "she", "female", 0.20, 0.20),
    ("Tb", "woman", "female", 0.10, 0.20),
]
# e^s: male 2 + 1 + 1 + 2 = 6, female 0.5 + 0.5 + 1 + 0.5 = 2.5  →  P_male = 6 / 8.5 = 12/17
P_MALE = 12 / 17
KL_EQUAL = 0.5 * math.log(0.5 / (12 / 17)) + 0.5 * math.log(0.5 / (5 / 17))  # = ½ ln(289/240) ≈ 0.092931
KL_REAL = 0.8 * math.log(0.8 / (12 / 17)) + 0.2 * math.log(0.2 / (5 / 17))  # male_dist 0.8 → ≈ 0.022998


def test_hand_example_gives_hand_computed_p_and_kl():
    s = np.log([am / tam for *_, am, tam in HAND])
    is_male = [g == "male" for _, _, g, _, _ in HAND]
    p_male = dk.gender_probabilities(s[None, :], is_male)[0]
    assert p_male == pytest.approx(P_MALE, abs=1e-12)
    assert dk.kl_divergence(dk.desired_male("equal", [0.8]), [p_male])[0] == pytest.approx(KL_EQUAL, abs=1e-12)
    assert dk.kl_divergence(dk.desired_male("real_world", [0.8]), [p_male])[0] == pytest.approx(KL_REAL, abs=1e-12)
    assert KL_EQUAL == pytest.approx(0.5 * math.log(289 / 240), abs=1e-12) and KL_REAL == pytest.approx(
        0.022998, abs=1e-6
    )


def test_torch_formulas_match_and_batchmean_halves():
    import torch
    import torch.nn.functional as F

    s = torch.log(torch.tensor([[am / tam for *_, am, tam in HAND]], dtype=torch.float64))
    probs = dk.gender_probabilities_torch(s, torch.tensor([g == "male" for _, _, g, _, _ in HAND]))
    assert probs[0, 0].item() == pytest.approx(P_MALE, abs=1e-12) and probs.sum().item() == pytest.approx(1.0)
    desired = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    kl = dk.kl_divergence_torch(desired, probs)
    assert kl.item() == pytest.approx(KL_EQUAL, abs=1e-12)
    # the source's loss: F.kl_div(log pred, target, 'batchmean') on the 2-vector = KL / 2
    assert F.kl_div(torch.log(probs[0]), desired[0], reduction="batchmean").item() == pytest.approx(KL_EQUAL / 2)


def test_causal_losses_use_negative_exponent():
    losses = np.array([[1.0, 2.0, 1.0, 3.0]])  # mean losses; male, male, female, female
    p = dk.gender_probabilities(losses, [True, True, False, False], sign=-1.0)[0]
    assert p == pytest.approx((math.exp(-1) + math.exp(-2)) / (2 * math.exp(-1) + math.exp(-2) + math.exp(-3)))


def test_kl_handles_zero_desired_share_and_clamps_the_prediction():
    assert dk.kl_divergence([1.0], [0.25])[0] == pytest.approx(math.log(4))
    assert dk.kl_divergence([0.5], [0.0])[0] == pytest.approx(0.5 * math.log(0.5 / 1e-8) + 0.5 * math.log(0.5))


def test_summary_is_mean_and_sample_variance_per_category_and_overall():
    records = pd.DataFrame(
        {
            "prof_gender": ["male_dominated", "male_dominated", "balanced", "balanced", "balanced"],
            "kl": [0.1, 0.3, 0.0, 0.2, 0.4],
        }
    )
    out = {(r["subset"], r["stat"]): r["value"] for r in dk.summarize(records)}
    assert out[("all", "mean")] == pytest.approx(0.2) and out[("all", "var")] == pytest.approx(0.025)
    assert out[("male_dominated", "mean")] == pytest.approx(0.2) and out[("male_dominated", "var")] == pytest.approx(
        0.02
    )
    assert out[("balanced", "var")] == pytest.approx(0.04)


# --- adaptive weighting --------------------------------------------------------------------------


def test_tracker_ema_mean_and_running_variance():
    t = KLTracker(beta=0.8)
    assert t.update("male_dominated", 1.0, 8) == (1.0, 0.0)  # first batch: mean = L, var = 0
    mean, var = t.update("male_dominated", 0.5, 8)
    assert mean == pytest.approx(0.9)  # 0.8·1.0 + 0.2·0.5
    assert var == pytest.approx((8 * 0.0 + (0.5 - 0.9) * (0.5 - 1.0)) / 16)  # = 0.0125
    mean, var = t.update("male_dominated", 0.9, 4)
    assert mean == pytest.approx(0.9) and var == pytest.approx(16 * 0.0125 / 20)
    assert t.update("balanced", 2.0, 5) == (2.0, 0.0)  # categories are tracked separately
    assert KLTracker.from_state(t.state()).stats == t.stats


@pytest.mark.parametrize(
    "mean,var,expected", [(1.0, 0.0125, 0.95 / 1.0125), (0.1, 0.0, 0.8), (3.0, 0.0, 1.5), (1.0, 1.0, 0.8)]
)
def test_lambda_rule_of_low_categories(mean, var, expected):
    # clamp(0.95 · μ / (1 + var), 0.8, 1.5)
    assert adaptive_lambda("male_dominated", mean, var, ("male_dominated",)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "mean,var,expected", [(1.0, 0.0125, 1.2 / 1.0125), (0.1, 0.0, 1.0), (3.0, 0.0, 1.5), (1.0, 1.0, 1.0)]
)
def test_lambda_rule_of_other_categories(mean, var, expected):
    # clamp(1.2 · μ / (1 + var), 1.0, 1.5)
    assert adaptive_lambda("female_dominated", mean, var, ("male_dominated",)) == pytest.approx(expected)
    assert adaptive_lambda("balanced", mean, var, ("male_dominated", "female_dominated")) == pytest.approx(expected)


def test_normalised_loss_is_lambda_times_loss_over_mean_plus_alpha():
    """λ·L_norm, L_norm = L/(μ_c + α_c), μ_c and var_c updated with this batch's L first; α of the category's
    kind (low 0.1, other 0.2 here, so α shows); the gradient in L is λ/(μ_c + α_c) (μ and λ are numbers)."""
    import torch

    settings = RealWorldKLSettings(momentum=0.5, alpha_low=0.1, alpha_high=0.2)
    tracker, low = KLTracker(settings.momentum), ("male_dominated",)
    expected = [
        # L, category, n, λ, objective, dObjective/dL
        # first batch: μ = 0.4, var = 0, λ = clamp(0.95·0.4, 0.8, 1.5) = 0.8; 0.8·0.4/(0.4 + 0.1)
        (0.4, "male_dominated", 4, 0.8, 0.64, 1.6),
        # μ = 0.5·0.4 + 0.5·2.0 = 1.2, var = (4·0 + (2.0 − 1.2)(2.0 − 0.4))/8 = 0.16, λ = 0.95·1.2/1.16
        (2.0, "male_dominated", 4, 0.95 * 1.2 / 1.16, 0.95 * 1.2 / 1.16 * 2.0 / 1.3, 0.95 * 1.2 / 1.16 / 1.3),
        # another category starts its own tracker: μ = 1.1, λ = clamp(1.2·1.1, 1.0, 1.5) = 1.32, α = 0.2
        (1.1, "balanced", 2, 1.32, 1.32 * 1.1 / 1.3, 1.32 / 1.3),
    ]
    for value, category, n, lam, objective, slope in expected:
        loss = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        total, got_lam = adaptive_objective(loss, category, n, tracker, settings, low)
        total.backward()
        assert got_lam == pytest.approx(lam, rel=1e-12)
        assert total.item() == pytest.approx(objective, rel=1e-12)
        assert loss.grad.item() == pytest.approx(slope, rel=1e-12)


def test_early_stopping_by_hand():
    """min_delta 0.125, patience 2 (values exact in binary): an epoch improves if it is at least min_delta
    below the *best* so far; two epochs in a row without that stop training; the best epoch is kept."""
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "bad_epochs": 0}
    losses = [4.0, 3.5, 3.4375, 3.375, 3.3125, 3.3, 1.0]
    #          new best, −0.5: best, −0.0625: bad 1, −0.125 from the best (−0.0625 from the last): best,
    #          bad 1, bad 2 → stop; the 1.0 is never reached
    improved = []
    for loss in losses:
        if not keep_training(state, max_epochs=10, patience=2):
            break
        improved.append(record_epoch(state, loss, min_delta=0.125))
    assert improved == [True, True, False, True, False, False]
    assert (state["epoch"], state["best_epoch"], state["best_loss"], state["bad_epochs"]) == (6, 4, 3.375, 2)
    # max_epochs caps it first
    state = {"epoch": 0, "best_loss": float("inf"), "best_epoch": 0, "bad_epochs": 0}
    while keep_training(state, max_epochs=3, patience=2):
        record_epoch(state, 1.0 / (state["epoch"] + 1), min_delta=0.0)
    assert (state["epoch"], state["best_epoch"]) == (3, 3)


def test_batches_hold_one_category_and_cover_every_occupation_once():
    categories = ["male_dominated"] * 10 + ["balanced"] * 3 + ["female_dominated"] * 9
    batches = category_batches(categories, 4, random.Random(0))
    assert sorted(i for b, _ in batches for i in b) == list(range(22))
    assert all({categories[i] for i in b} == {c} for b, c in batches)
    assert [len(b) for b, _ in category_batches(categories, 4, None)] == [4, 4, 2, 3, 4, 4, 1]


# --- scoring by token positions (WordPiece and byte-level BPE) -----------------------------------


def _frame(split="test"):
    return pd.DataFrame(dd.sentence_rows(splits=[split]))


@pytest.fixture(scope="module")
def tokenizers():
    from debiaslab.testbed.tokenizer import train_causal, train_mlm

    texts = _frame()["sentence"].tolist()
    bpe = train_causal(texts, 600)
    bpe.add_special_tokens({"mask_token": "<mask>"})  # a RoBERTa-style BPE masked-LM tokenizer
    return {"wordpiece": train_mlm(texts, 600), "bpe": bpe}


@pytest.mark.parametrize("name", ["wordpiece", "bpe"])
def test_attribute_and_occupation_tokens_are_found_from_offsets(tokenizers, name):
    tok = tokenizers[name]
    frame = _frame().iloc[::37].reset_index(drop=True)
    enc = dk.encode_for_mlm(tok, frame)
    for i, row in frame.iterrows():
        ids = enc["input_ids"][i]
        attr = tok.decode(ids[enc["attr"][i]]).replace(" ", "")
        prof = tok.decode(ids[enc["prof"][i]]).replace(" ", "")
        assert attr == row["attribute"].replace(" ", ""), row["sentence"]
        assert prof == row["profession"].replace(" ", ""), row["sentence"]


def test_mlm_score_is_log_ratio_of_attribute_probabilities(tokenizers):
    """s from the batched scorer = the same quantity computed by hand for one sentence at a time."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    tok = tokenizers["wordpiece"]
    torch.manual_seed(0)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            pad_token_id=tok.pad_token_id,
        )
    ).eval()
    frame = _frame().iloc[[700, 0, 13, 5, 150]].reset_index(drop=True)
    enc = dk.encode_for_mlm(tok, frame)
    enc["mask_token_id"] = tok.mask_token_id
    lengths = enc["attention_mask"].sum(1).tolist()
    assert len(set(lengths)) > 1 and lengths != sorted(lengths)  # batching reorders these rows
    batched = dk.mlm_scores(model, enc, batch_size=2)
    for i, row in frame.iterrows():
        s = row["sentence"]
        a0, a1, p0, p1 = row["attr_start"], row["attr_end"], row["prof_start"], row["prof_end"]
        attr_ids = tok(s[a0:a1], add_special_tokens=False)["input_ids"]
        n_prof = len(tok(s[p0:p1], add_special_tokens=False)["input_ids"])
        masks = " ".join([tok.mask_token] * len(attr_ids))
        am = s[:a0] + masks + s[a1:]
        tam = s[:a0] + masks + s[a1:p0] + " ".join([tok.mask_token] * n_prof) + s[p1:]

        def logp(text):
            x = tok(text, return_tensors="pt")
            with torch.no_grad():
                out = torch.log_softmax(model(**x).logits[0], -1)
            pos = (x["input_ids"][0] == tok.mask_token_id).nonzero().flatten()[: len(attr_ids)]  # noqa: B023 - logp is called within this iteration
            return sum(out[p, t].item() for p, t in zip(pos.tolist(), attr_ids))  # noqa: B023 - as above

        assert batched[i].item() == pytest.approx(logp(am) - logp(tam), abs=1e-4), s


def test_mlm_term_backpropagates_gamma_times_the_pseudo_log_likelihood_loss(tokenizers):
    """mlm_loss_backward(weight=γ) leaves γ·∇L_MLM in the gradients and returns L_MLM, where by hand L_MLM is
    the mean over every (sentence, real token) of −log p(token | the sentence with that token masked) — one
    unpadded forward per masked copy, special tokens never masked; chunks of 5 copies change nothing."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from debiaslab.methods.desired_kl import mlm_loss_backward

    tok = tokenizers["wordpiece"]
    torch.manual_seed(0)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            pad_token_id=tok.pad_token_id,
        )
    )
    sentences = list(_frame()["sentence"].iloc[[0, 13, 700]])
    enc = tok(sentences, return_tensors="pt", padding=True)
    real = enc["attention_mask"].bool() & ~torch.isin(enc["input_ids"], torch.tensor(tok.all_special_ids))
    nll, count = 0.0, 0
    for sentence in sentences:
        ids = tok(sentence, return_tensors="pt")["input_ids"][0]
        for j in range(1, len(ids) - 1):  # [CLS] and [SEP] stay
            masked = ids.clone()
            masked[j] = tok.mask_token_id
            nll = nll - torch.log_softmax(model(input_ids=masked[None]).logits[0, j], -1)[ids[j]]
            count += 1
    by_hand = nll / count
    by_hand.backward()
    expected = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    gamma = 0.3
    got = mlm_loss_backward(model, enc["input_ids"], enc["attention_mask"], real, gamma, 5, tok.mask_token_id, "pll")
    assert count == int(real.sum()) and got == pytest.approx(by_hand.item(), rel=1e-5)
    for name, param in model.named_parameters():
        assert torch.allclose(param.grad, gamma * expected[name], rtol=1e-4, atol=1e-7), name


def test_training_summary_reports_the_true_kl_and_names_the_halved_one(tokenizers, tmp_path):
    """kl_equal with batchmean (the source's KL/2) on a tiny BERT: the summary's valid_kl equals the detection
    KL computed independently, of the unmodified model (epoch 0) and of the saved best epoch's; valid_half_kl
    is half of it; early_stopping_on names the halved key."""
    import json

    import torch
    from transformers import BertConfig, BertForMaskedLM

    from debiaslab.methods.registry import run
    from debiaslab.metrics.distribution_kl import SentenceScorer, desired_male, kl_divergence

    frame = pd.DataFrame(dd.sentence_rows(splits=["train", "valid"]))
    keep = frame.drop_duplicates("profession").groupby(["split", "prof_gender"]).head(2)["profession"]
    frame = frame[frame["profession"].isin(keep)].reset_index(drop=True)
    frame.to_parquet(tmp_path / "sentences.parquet")
    tok = tokenizers["wordpiece"]
    torch.manual_seed(0)
    # a wide initialisation: gendered words far from equally likely (a KL well above float noise)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            initializer_range=0.5,
            pad_token_id=tok.pad_token_id,
        )
    )
    model.save_pretrained(tmp_path / "mlm")
    tok.save_pretrained(tmp_path / "mlm")
    valid = frame[frame["split"] == "valid"].reset_index(drop=True)

    def detected_kl(model):
        scorer = SentenceScorer(model.eval(), tok, "mlm", valid)
        with torch.no_grad():
            p_male = scorer.probabilities()[0][:, 0].double().numpy()
        return float(np.mean(kl_divergence(desired_male("equal", scorer.occupations["male_dist"]), p_male)))

    before = detected_kl(model)
    assert before > 0.01

    spec = json.dumps({"path": str(tmp_path / "mlm"), "kind": "mlm"})
    run(
        "kl_equal",
        model=spec,
        data=str(tmp_path / "sentences.parquet"),
        seed=0,
        out=tmp_path / "out",
        checkpoints=tmp_path / "ckpt",
        settings={"learning_rate": 1e-3, "batch_size": 4, "max_epochs": 2, "batchmean": True, "min_delta": 0.0},
    )
    summary = json.loads((tmp_path / "out/training_summary.json").read_text())
    history = summary["history"]
    assert history[0]["valid_kl"] == pytest.approx(before, rel=1e-4)
    for h in history:
        assert h["valid_half_kl"] == pytest.approx(h["valid_kl"] / 2, rel=1e-12)
    for h in history[1:]:
        assert h["train_half_kl"] == pytest.approx(h["train_kl"] / 2, rel=1e-12)
        assert h["train_loss"] == pytest.approx(h["train_half_kl"], rel=1e-12)  # kl_equal trains on KL/2 itself
    best = history[summary["best_epoch"]]
    assert summary["early_stopping_on"] == "valid_half_kl"
    assert (summary["best_valid_kl"], summary["best_valid_half_kl"]) == (best["valid_kl"], best["valid_half_kl"])
    # the saved model is the best epoch's: its detection KL is the one reported for that epoch
    assert detected_kl(BertForMaskedLM.from_pretrained(tmp_path / "out")) == pytest.approx(best["valid_kl"], rel=1e-4)


def test_causal_score_is_each_sentence_mean_nll_in_input_order(tokenizers):
    """s from the batched causal scorer (length-sorted, each batch cut to its longest) = the source's
    `model(ids, labels=ids).loss` of each sentence alone, in the input's order."""
    import copy

    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = copy.deepcopy(tokenizers["bpe"])
    tok.padding_side = "left"  # the encoder pads on the right whatever the tokenizer's default
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=64)).eval()
    frame = _frame().iloc[[700, 0, 13, 5, 150]].reset_index(drop=True)
    enc = dk.encode_for_causal(tok, frame)
    lengths = enc["attention_mask"].sum(1).tolist()
    assert len(set(lengths)) > 1 and lengths != sorted(lengths)  # batching reorders these rows
    batched = dk.causal_scores(model, enc, batch_size=2)
    for i, sentence in enumerate(frame["sentence"]):
        ids = tok(sentence, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            expected = model(input_ids=ids, labels=ids).loss.item()
        assert batched[i].item() == pytest.approx(expected, abs=1e-5), sentence


def test_attribute_masking_masks_the_gendered_attribute_of_planted_sentences(tokenizers):
    """The dedicated testbed MLM's collator: the attribute ("he", "brother" of "my brother") masked in a
    share of the texts that open with a gendered phrase; other texts only get the standard masking."""
    from debiaslab.testbed.desired_distribution_mlm import AttributeMasking

    tok = tokenizers["wordpiece"]
    collate = AttributeMasking(tok, mlm_probability=1e-9, probability=1.0, seed=0)
    texts = ["he is a nurse.", "my brother works as an electrical engineer.", "every nurse needs good tools."]
    features = [{"input_ids": tok(t)["input_ids"]} for t in texts]
    assert [collate.attribute_span(f["input_ids"]) for f in features] == [
        (1, 2),
        (2, 2 + len(tok("brother", add_special_tokens=False)["input_ids"])),
        None,
    ]
    out = collate(features)
    labelled = [tok.decode(row[row != -100]) for row in out["labels"]]
    assert labelled == ["he", "brother", ""]
    assert (out["input_ids"][0, 1] == tok.mask_token_id) and (out["input_ids"][2] != tok.mask_token_id).all()
    half = AttributeMasking(tok, mlm_probability=1e-9, probability=0.5, seed=0)
    picked = sum(int((half([features[0]] * 200)["labels"][:, 1] != -100).sum()) for _ in range(2))
    assert 150 < picked < 250


def test_score_matrix_rejects_a_ragged_sentence_table():
    from debiaslab.core.io import DataError

    frame = _frame()
    with pytest.raises(DataError, match="occupation"):
        dk.score_matrix(frame.drop(index=3).reset_index(drop=True))


# --- config ----------------------------------------------------------------------------------------


def _config(patch=None):
    import copy
    from pathlib import Path

    from debiaslab.experiments.registry import validate

    repo = Path(__file__).resolve().parents[1]
    config = {
        "name": "t",
        "models": {"b": {"path": "bert-base-uncased", "kind": "mlm"}, "l": {"path": "org/llama", "kind": "causal"}},
        "experiments": {"desired_distribution": {"models": ["b", "l"], **(patch or {})}},
    }
    return validate(copy.deepcopy(config), repo / "workflow/schemas/config.schema.yaml")


def test_schema_defaults_are_the_sources_values():
    exp = _config()["experiments"]["desired_distribution"]
    assert exp["seeds"] == [42, 52, 62, 72, 82] and list(exp["methods"]) == ["base", "kl_equal", "kl_real_world"]
    eq, rw = exp["methods"]["kl_equal"]["train"], exp["methods"]["kl_real_world"]["train"]
    assert (eq["learning_rate"], eq["weight_decay"], eq["min_delta"], eq["patience"], eq["batchmean"]) == (
        2e-5,
        0.01,
        1e-4,
        5,
        True,
    )
    assert (rw["min_delta"], rw["momentum"], rw["mlm_loss"]) == (1e-3, 0.95, "pll")
    assert rw["low_lambda_categories"] == {"mlm": ["male_dominated"], "causal": ["male_dominated", "female_dominated"]}
    assert (rw["lora"]["r"], rw["lora"]["dropout"], len(rw["lora"]["target_modules"])) == (64, 0.2, 7)
    ppl = exp["evaluations"][
        "perplexity"
    ]  # the source: MLM loss, 15 % masked, on WikiText-103 test lines of >= 15 words
    assert (ppl["dataset"]["path"], ppl["dataset"]["name"], ppl["dataset"]["split"]) == (
        "Salesforce/wikitext",
        "wikitext-103-raw-v1",
        "test",
    )
    assert (
        ppl["dataset"]["min_words"],
        ppl["dataset"]["exclude_prefixes"],
        ppl["mlm_loss"],
        ppl["mask_probability"],
    ) == (15, ["="], True, 0.15)


@pytest.mark.parametrize(
    "patch, fragment",
    [
        ({"methods": {"base": {}, "kl_equal": {"models": ["x"]}}}, "methods.kl_equal.models: ['x'] not in"),
        ({"methods": {"kl_equal": {}}}, "'base' is a required property"),
        ({"table": {"splits": ["train"]}}, "table.splits: ['train'] not scored"),
        (
            {"methods": {"base": {}, "kl_real_world": {"train": {"mlm_loss": "full"}}}},
            "mlm_loss: 'full' is not allowed",
        ),
        ({"methods": {"base": {}, "kl_real_world": {"train": {"momentum": 1.5}}}}, "momentum"),
        (
            {"evaluations": {"glue": {"models": ["x"]}}},
            "evaluations.glue.models: ['x'] not among the experiment's models",
        ),
        (
            {"evaluations": {"glue": {"methods": ["kl_equal", "y"]}}},
            "evaluations.glue.methods: ['y'] not among the experiment's methods",
        ),
        (
            {"evaluations": {"glue": {"seeds": [7]}}},
            "evaluations.glue.seeds: [7] not among the experiment's seeds",
        ),
        ({"evaluations": {"perplexity": {"dataset": {"colum": "t"}}}}, "colum"),
    ],
)
def test_bad_desired_distribution_configs_are_rejected_by_key(patch, fragment):
    from debiaslab.core.config import ConfigError

    with pytest.raises(ConfigError) as err:
        _config(patch)
    assert fragment in str(err.value), str(err.value)


# --- table -------------------------------------------------------------------------------------------


def test_table_pairs_each_seed_with_the_base_run():
    from debiaslab.aggregate.tables import build, latex, markdown
    from debiaslab.core.store import RunId, score_rows
    from debiaslab.experiments.registry import table_spec

    def rows(method, seed, kl, loss):
        values = [
            {"split": "test", "subset": s, "metric": "kl_equal_mean", "value": kl, "n": 5}
            for s in ("all", "male_dominated", "balanced", "female_dominated")
        ]
        values.append({"split": "test", "subset": "all", "metric": "p_male_mean", "value": 0.6, "n": 5})
        # evaluation rows (eval_perplexity.parquet, eval_glue.parquet): every non-detection metric of subset "all"
        values.append({"split": "heldout", "subset": "all", "metric": "mlm_loss", "value": loss, "n": 100})
        values.append({"split": "heldout", "subset": "all", "metric": "pseudo_nll_per_token", "value": 3.0, "n": 100})
        values.append({"split": "validation", "subset": "all", "metric": "glue_score", "value": 0.5, "n": 10})
        return score_rows(RunId("desired_distribution", "m", method, seed), values, {})

    scores = pd.concat([rows("base", 42, 0.2, 2.0), rows("kl_equal", 42, 0.1, 2.2), rows("kl_equal", 52, 0.05, 2.0)])
    table = table_spec("desired_distribution", {"splits": ["test"], "method_order": ["base", "kl_equal"]})
    bias, utility = build(scores, table)
    kl = bias[(bias.method == "kl_equal") & (bias.subset == "all") & (bias.metric == "kl")].iloc[0]
    # after 0.1 and 0.05 against the one base value 0.2: Δ −0.1, −0.15; change −50 %, −75 %
    assert (kl["mean"], kl["n_seeds"], kl["diff"]) == (pytest.approx(0.075), 2, pytest.approx(-0.125))
    assert kl["change"] == pytest.approx(-62.5) and kl["change_std"] == pytest.approx(np.std([-50, -75], ddof=1))
    assert kl["test"] == "paired t" and kl["target"] == "equal"
    util = utility[utility.method == "kl_equal"]
    assert list(zip(util.split, util.metric)) == [("validation", "glue_score"), ("heldout", "mlm_loss")] or set(
        zip(util.split, util.metric)
    ) == {("heldout", "mlm_loss"), ("validation", "glue_score")}
    loss = util[util.metric == "mlm_loss"].iloc[0]
    assert loss["change"] == pytest.approx(5.0) and loss["test"] == "paired t"
    assert util[util.metric == "glue_score"].iloc[0]["test"] == "n/a: zero variance"  # Δ = 0 in both seeds
    md = markdown(table, [bias, utility])
    assert "| m | kl\\_equal | equal | test | all | 0.075 ± 0.035 [" in md
    assert "| m | kl\\_equal | heldout | mlm\\_loss | 2.100 ± 0.141 [" in md  # utility: one row per metric
    tex = latex(table, [bias, utility])
    # LaTeX: the keys that vary (method, category); the rest said once in the caption
    assert tex.count(r"\begin{table}") == 2 and r"kl\_equal & all & " in tex and "target: equal" in tex


def test_trained_folder_is_the_model_or_its_adapter(tmp_path):
    """Evaluations of a run with a trained folder: a complete model replaces the base, an adapter is applied."""
    import json

    from debiaslab.core.config import ConfigError
    from debiaslab.models import apply_trained

    base = json.dumps({"path": "bert-base-uncased", "kind": "mlm", "dtype": "float32"})
    assert apply_trained(base, None, None) == (base, None)
    (tmp_path / "full").mkdir()
    spec, adapter = apply_trained(base, str(tmp_path / "full"))
    full = json.loads(spec)
    assert adapter is None and (full["path"], full["kind"], full["dtype"]) == (str(tmp_path / "full"), "mlm", "float32")
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora/adapter_config.json").write_text("{}")
    assert apply_trained(base, str(tmp_path / "lora")) == (base, str(tmp_path / "lora"))
    with pytest.raises(ConfigError, match="not both"):
        apply_trained(base, str(tmp_path / "lora"), str(tmp_path / "lora"))
