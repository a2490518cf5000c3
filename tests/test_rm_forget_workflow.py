"""rm_forget on the testbed: the planted style bias, its removal by subtraction, the curve, rerun scoping."""

import json

import pandas as pd
import pytest
import torch
import yaml

from conftest import REPO, edited_config, planned_jobs

pytestmark = pytest.mark.workflow

MODES = ("style", "correctness", "cross")
RUN = "testbed-style-rm/forget_{mode}/seed~42"


def _config():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def _scores(default_run):
    frames = [pd.read_parquet(p) for p in (default_run / "results/testbed/scores/rm_forget").rglob("scores.parquet")]
    scores = pd.concat(frames, ignore_index=True)
    scores["lambda"] = scores["subset"].str.removeprefix("lambda=").astype(float)
    return scores


def _curve(scores, method, metric):
    part = scores[(scores.method == method) & (scores.metric == metric)]
    return part.groupby("lambda")["value"].mean()


def test_testbed_reward_model_has_the_planted_style_bias(default_run):
    scores = _scores(default_run)
    at0 = scores[scores["lambda"] == 0].groupby("metric")["value"].mean()
    # prefers the correct answer within a style, and the styled answer when both are right/wrong ...
    assert at0["rmbench_normal"] >= 0.9 and at0["rmbench_easy"] >= 0.9, at0
    # ... so a wrong markdown answer beats a right plain one: hard accuracy and cross pairs are low
    assert at0["rmbench_hard"] <= 0.5 and at0["pair_acc_cross"] <= 0.2, at0
    # λ = 0 is the base model, the same in every mode's sweep
    base = scores[scores["lambda"] == 0].pivot_table(index="metric", columns="method", values="value")
    assert (base.max(axis=1) - base.min(axis=1)).max() < 1e-9


def test_subtracting_the_style_forget_lora_raises_rmbench_hard_accuracy(default_run):
    hard = _curve(_scores(default_run), "forget_style", "rmbench_hard")
    positive = hard[hard.index > 0]
    best = positive.idxmax()
    assert positive.max() - hard[0.0] >= 0.3, hard
    # at that λ the model still prefers correct answers within a style (normal accuracy holds)
    normal = _curve(_scores(default_run), "forget_style", "rmbench_normal")
    assert normal[best] >= 0.9, normal
    # adding the forget-LoRA instead (λ < 0) deepens the bias
    assert hard[hard.index < 0].max() <= hard[0.0], hard


def test_table_shows_the_whole_curve_for_every_mode(default_run):
    table = pd.read_csv(default_run / "results/testbed/tables/rm_forget.csv")
    lambdas = sorted(float(x) for x in _config()["experiments"]["rm_forget"]["sweep"]["lambdas"])
    for mode in MODES:
        rows = table[table["method"] == f"forget_{mode}"]
        assert rows["lambda"].tolist() == lambdas, rows
    assert {
        "RM-Bench hard % mean",
        "RM-Bench normal % mean",
        "RM-Bench easy % mean",
        "RM-Bench mean % mean",
        "style pairs % mean",
        "correctness pairs % mean",
        "cross pairs % mean",
    } <= set(table.columns)
    mean = table[["RM-Bench hard % mean", "RM-Bench normal % mean", "RM-Bench easy % mean"]].mean(axis=1)
    assert (mean - table["RM-Bench mean % mean"]).abs().max() < 1e-3
    # compared with λ = 0 of the same adapter; one seed: Δ's interval is the bootstrap over questions
    base = table[table["lambda"] == 0.0]
    assert (base["RM-Bench hard % test"] == "baseline").all() and base["RM-Bench hard % Δ"].isna().all()
    others = table[table["lambda"] != 0.0]
    assert others[["RM-Bench hard % Δ item ci low", "RM-Bench hard % item ci low"]].notna().all().all()
    assert (others["RM-Bench hard % test"] == "n/a: n < 2").all()
    assert ((table["RM-Bench hard % item ci low"] >= 0) & (table["RM-Bench hard % item ci high"] <= 100)).all()
    md = (default_run / "results/testbed/tables/rm_forget.md").read_text()
    assert md.count("| testbed-style-rm | forget\\_") == len(MODES) * len(lambdas) and "± 0.0" not in md
    for ext, magic in (("png", b"\x89PNG"), ("pdf", b"%PDF")):
        assert (default_run / f"results/testbed/figures/rm_forget_lambda_curve.{ext}").read_bytes().startswith(magic)


def test_trained_forget_lora_touches_only_qkvo_and_subtracts_exactly(default_run):
    from safetensors.torch import load_file

    from debiaslab import models
    from debiaslab.core.batching import pad_batch
    from debiaslab.data.reward_inputs import encode
    from debiaslab.methods.forget_lora import load_reward_model, subtracted

    adapter = default_run / "results/testbed/train/rm_forget" / RUN.format(mode="style") / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (8, 16, 0.05)
    assert not config["modules_to_save"] and sorted(config["target_modules"]) == [
        "k_proj",
        "o_proj",
        "q_proj",
        "v_proj",
    ]
    weights = load_file(str(adapter / "adapter_model.safetensors"))
    assert all("lora_A" in k or "lora_B" in k for k in weights)
    summary = json.loads((adapter / "training_summary.json").read_text())
    assert summary["direction"] == "undesired" and summary["pairs"] == 400

    rm_path = str(default_run / "results/testbed/testbed/style_rm")
    tok = models.load_tokenizer(rm_path)
    items = pd.read_parquet(default_run / "results/testbed/data/rm_forget/rmbench_items.parquet").head(4)
    ids, mask = pad_batch(
        encode(tok, list(items["prompt"]) * 2, [c[0] for c in items["chosen"]] + [r[2] for r in items["rejected"]]),
        tok.pad_token_id,
    )
    lam, scale = 0.5, 16 / 8
    model = models.attach_adapter(load_reward_model(rm_path, tokenizer=tok), adapter).eval()
    by_hand = load_reward_model(rm_path, tokenizer=tok)
    for name, module in by_hand.named_modules():
        if name.rsplit(".", 1)[-1] in ("q_proj", "k_proj", "v_proj", "o_proj"):
            b = weights[f"base_model.model.{name}.lora_B.weight"]
            a = weights[f"base_model.model.{name}.lora_A.weight"]
            module.weight.data -= lam * scale * (b @ a)
    with torch.no_grad(), subtracted(model, lam):
        got = model(input_ids=ids, attention_mask=mask).logits
    with torch.no_grad():
        torch.testing.assert_close(got, by_hand(input_ids=ids, attention_mask=mask).logits, atol=1e-5, rtol=0)


def test_editing_one_modes_learning_rate_reruns_only_that_mode(default_run):
    def edit(config):
        config["experiments"]["rm_forget"]["methods"]["forget_style"]["train"]["learning_rate"] = 0.001

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "rm_lr.yaml")))
    assert {j for j in jobs if j[0] != "all"} == {
        ("train", f"results/testbed/train/rm_forget/{RUN.format(mode='style')}/adapter"),
        ("score_rm_forget", f"results/testbed/scores/rm_forget/{RUN.format(mode='style')}/scores.parquet"),
        ("table", "results/testbed/tables/rm_forget.csv"),
        ("figure", "results/testbed/figures/rm_forget_lambda_curve.png"),
    }


def test_editing_the_sweep_rescored_without_retraining(default_run):
    def edit(config):
        config["experiments"]["rm_forget"]["sweep"]["lambdas"] = [0, 0.3, 0.7]

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "rm_sweep.yaml")))
    assert {j for j in jobs if j[0] != "all"} == (
        {("score_rm_forget", f"results/testbed/scores/rm_forget/{RUN.format(mode=m)}/scores.parquet") for m in MODES}
        | {
            ("table", "results/testbed/tables/rm_forget.csv"),
            ("figure", "results/testbed/figures/rm_forget_lambda_curve.png"),
        }
    )


def test_editing_the_testbed_reward_model_reruns_only_rm_forget(default_run):
    def edit(config):
        config["testbed"]["style_rm"]["steps"] = 90

    jobs = planned_jobs(default_run, "all", "--configfile", str(edited_config(default_run, edit, "rm_rm.yaml")))
    rules = {rule for rule, _ in jobs} - {"all"}
    assert rules == {"testbed_style_rm", "train", "score_rm_forget", "table", "figure"}
    assert all("occupations" not in out for _, out in jobs)
